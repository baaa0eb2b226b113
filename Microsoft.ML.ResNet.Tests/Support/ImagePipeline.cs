namespace Microsoft.ML.ResNet.Tests.Support;

/// <summary>
/// Pixels as the library expects them, made the way its users make them: ML.NET's LoadImages -> ResizeImages ->
/// ExtractPixels (CHW planes scaled to 0..1); and the committed photographs as rows of image paths.
/// </summary>
internal static class ImagePipeline
{
    public const string ImageColumn = "Image";

    public const string PixelsColumn = "Pixels";

    /// <summary>LoadImages -> ResizeImages to <paramref name="size"/> x <paramref name="size"/> -> ExtractPixels(scale 1/255).</summary>
    /// <param name="ml">The context.</param>
    /// <param name="size">The side of the square images the network takes.</param>
    /// <param name="pixelsColumn">The output column of pixels.</param>
    /// <param name="pathColumn">The input column of image paths (absolute, or relative to the working folder).</param>
    public static IEstimator<ITransformer> PixelPipeline(MLContext ml, int size, string pixelsColumn = PixelsColumn, string pathColumn = nameof(ImageRow.ImagePath)) =>
        ml.Transforms.LoadImages(ImageColumn, imageFolder: null, inputColumnName: pathColumn)
            .Append(ml.Transforms.ResizeImages(ImageColumn, size, size))
            .Append(ml.Transforms.ExtractPixels(pixelsColumn, ImageColumn, scaleImage: 1f / 255));

    /// <summary>The committed photographs (TestData/photos), in file-name order.</summary>
    public static string[] PhotoPaths() => Directory.GetFiles(TestPaths.Photos, "*.png").Order(StringComparer.Ordinal).ToArray();

    /// <summary>The photos as rows of an ImagePath column, in file-name order, repeated <paramref name="times"/>.</summary>
    public static IDataView Photos(MLContext ml, int times = 1) =>
        Paths(ml, Enumerable.Repeat(PhotoPaths(), times).SelectMany(p => p));

    public static IDataView Paths(MLContext ml, IEnumerable<string> paths) =>
        ml.Data.LoadFromEnumerable(paths.Select(p => new ImageRow { ImagePath = p }).ToArray());

    /// <summary>Pixels of the photos in <see cref="PixelsColumn"/>, materialized, so tests can score them several ways.</summary>
    public static IDataView PhotoPixels(MLContext ml, int size, int times = 1)
    {
        var photos = Photos(ml, times);
        var pixels = PixelPipeline(ml, size).Fit(photos).Transform(photos);
        return ml.Data.Cache(ml.Transforms.DropColumns(ImageColumn).Fit(pixels).Transform(pixels));
    }

    public sealed class ImageRow
    {
        public string ImagePath { get; set; } = string.Empty;
    }
}
