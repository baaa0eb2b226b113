using Microsoft.ML.Data;

namespace ImageClassification.Data;

/// <summary>How large a data set's images are, read from a sample of them.</summary>
internal static class ImageSizes
{
    private const int SampleSize = 64;

    /// <summary>The median shorter side, in pixels, of up to 64 images spread evenly over <paramref name="imagePaths"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The list is empty.</exception>
    public static int MedianShortSide(IReadOnlyList<string> imagePaths)
    {
        ArgumentOutOfRangeException.ThrowIfZero(imagePaths.Count, nameof(imagePaths));
        var step = Math.Max(1, imagePaths.Count / SampleSize);
        var sides = new List<int>();
        for (var i = 0; i < imagePaths.Count && sides.Count < SampleSize; i += step)
        {
            // Callers pass images that were already decoded once (the data set checks every file), so these do not fail.
            using var image = MLImage.CreateFromFile(imagePaths[i]);
            sides.Add(Math.Min(image.Width, image.Height));
        }

        sides.Sort();
        return sides[sides.Count / 2];
    }
}
