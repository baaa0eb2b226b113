using System.Collections.Concurrent;
using Microsoft.ML.Data;
using Microsoft.ML.ResNet.Catalog;
using Microsoft.ML.Transforms.Image;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>
/// Turns an encoded image into the classifier's pixel vector with ML.NET's own ResizeImages and ExtractPixels (the
/// defaults, scale 1/255), so a served image gets exactly the numbers the pipeline gives it. Thread-safe: each caller
/// borrows one of a pool of single-row engines, and decoding and resizing run on the caller's thread.
/// </summary>
internal sealed class ImagePixelReader
{
    private const string ImageColumn = "Image";
    private const string ResizedColumn = "Resized";
    private const string PixelsColumn = "Pixels";

    private readonly ITransformer _transformer;
    private readonly MLContext _ml = new();
    private readonly ConcurrentBag<PredictionEngine<ImageRow, PixelRow>> _engines = [];

    public ImagePixelReader(int height, int width)
    {
        Height = height;
        Width = width;
        var empty = _ml.Data.LoadFromEnumerable(Array.Empty<ImageRow>());
        _transformer = _ml.Transforms.ResizeImages(ResizedColumn, width, height, ImageColumn)
            .Append(_ml.Transforms.ExtractPixels(PixelsColumn, ResizedColumn, scaleImage: Defaults.PixelScale))
            .Fit(empty);
    }

    public int Height { get; }

    public int Width { get; }

    /// <summary>Decodes <paramref name="encoded"/> (PNG, JPEG, BMP, GIF, WebP) and reads its pixels.</summary>
    /// <exception cref="ArgumentException">The bytes are empty or not an image; the message says which and how many bytes came.</exception>
    public float[] Read(ReadOnlySpan<byte> encoded, string parameterName)
    {
        if (encoded.IsEmpty)
        {
            throw new ArgumentException("The image is empty (0 bytes); expected an encoded PNG, JPEG, BMP, GIF or WebP image.", parameterName);
        }

        MLImage image;
        try
        {
            using var stream = new MemoryStream(encoded.ToArray(), writable: false);
            image = MLImage.CreateFromStream(stream);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or NotSupportedException)
        {
            throw new ArgumentException(
                $"The {encoded.Length:N0} bytes given are not an image that can be decoded ({Signature(encoded)}); expected PNG, JPEG, BMP, GIF or WebP.",
                parameterName,
                e);
        }

        using (image)
        {
            return Read(image, parameterName);
        }
    }

    /// <summary>Resizes <paramref name="image"/> to the model's input and reads its pixels; the image is not disposed.</summary>
    /// <exception cref="ArgumentException">The image has no pixels.</exception>
    public float[] Read(MLImage image, string parameterName)
    {
        if (image.Width <= 0 || image.Height <= 0)
        {
            throw new ArgumentException($"The image has no pixels ({image.Width}x{image.Height}).", parameterName);
        }

        if (!_engines.TryTake(out var engine))
        {
            engine = _ml.Model.CreatePredictionEngine<ImageRow, PixelRow>(_transformer);
        }

        // ResizeImages hands an image that already has the target size through as its output, and the engine disposes
        // its last output when the next row comes (from whichever caller borrows it next): such an image goes in as a
        // copy the engine owns, so the caller's image (or the one Read(bytes) disposes itself) is never that output.
        var input = image.Width == Width && image.Height == Height
            ? MLImage.CreateFromPixels(image.Width, image.Height, image.PixelFormat, image.Pixels)
            : image;
        try
        {
            var pixels = engine.Predict(new ImageRow { Image = input }).Pixels;
            if (pixels.Length != 3 * Height * Width)
            {
                throw new InvalidOperationException($"ExtractPixels gave {pixels.Length} values; expected 3 x {Height} x {Width}.");
            }

            return pixels;
        }
        finally
        {
            _engines.Add(engine);
        }
    }

    /// <summary>The first bytes in hex, so a message shows what came instead of an image (e.g. "starts 3C 68 74 6D": HTML).</summary>
    private static string Signature(ReadOnlySpan<byte> bytes) =>
        "starts " + string.Join(' ', bytes[..Math.Min(8, bytes.Length)].ToArray().Select(b => b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture)));

    private sealed class ImageRow
    {
        // The declared size is a formality (the parameterless attribute throws in ML.NET 5): ResizeImages takes each
        // image at the size it has.
        [ImageType(1, 1)]
        public MLImage? Image { get; set; }
    }

    private sealed class PixelRow
    {
        public float[] Pixels { get; set; } = [];
    }
}
