using Microsoft.ML.Data;
using SkiaSharp;

namespace Microsoft.ML.ResNet;

/// <summary>
/// Draws a class activation map over the image it explains, as a PNG: the map is scaled to 0..1 (its minimum to 0,
/// its maximum to 1), upsampled bilinearly to the image's size, coloured with the jet colour map (blue low, red high)
/// and blended over the image.
/// </summary>
/// <remarks>
/// The map is what the classifier's heat-map column (<see cref="ResNetClassifierOptions.HeatMapColumnName"/>) holds (or one class of the ONNX <c>heatmaps</c> output),
/// row-major h x w (7x7 for a 224x224 input). Pass the image the map was computed from, at any size: the map covers the
/// whole image, as the resized pixels the network saw covered it.
/// </remarks>
/// <example>See the README's "Heat maps"; samples/WebApp/ModelHost.cs asks for the maps (<c>IncludeHeatMap</c>), which <see cref="ResNetBatchPredictor"/> draws with this class.</example>
public static class HeatMapImage
{
    /// <summary>How much of the colour shows over the image by default.</summary>
    public const float DefaultOpacity = 0.5f;

    /// <summary>Renders <paramref name="map"/> over an encoded image (PNG, JPEG, BMP, ...).</summary>
    /// <param name="image">The encoded image.</param>
    /// <param name="map">The map, row-major <paramref name="mapHeight"/> x <paramref name="mapWidth"/>.</param>
    /// <param name="mapHeight">Rows of the map.</param>
    /// <param name="mapWidth">Columns of the map.</param>
    /// <param name="opacity">0 shows only the image, 1 only the colours.</param>
    /// <returns>PNG bytes of an image of the input's size.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="image"/> is null.</exception>
    /// <exception cref="ArgumentException">The bytes are not an image, or the map is not finite or not <paramref name="mapHeight"/> x <paramref name="mapWidth"/> long.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A map side below 1, or an opacity outside 0..1.</exception>
    public static byte[] RenderPng(byte[] image, ReadOnlySpan<float> map, int mapHeight, int mapWidth, float opacity = DefaultOpacity)
    {
        ArgumentNullException.ThrowIfNull(image);
        CheckMap(map, mapHeight, mapWidth, opacity);
        MLImage decoded;
        try
        {
            decoded = MLImage.CreateFromStream(new MemoryStream(image, writable: false));
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"The {image.Length} bytes are not an image ML.NET can decode (PNG, JPEG, BMP, GIF, WebP): {e.Message}", nameof(image), e);
        }

        using (decoded)
        {
            return Render(decoded, map, mapHeight, mapWidth, opacity);
        }
    }

    /// <summary>Renders <paramref name="map"/> over an ML.NET image (e.g. what LoadImages gives); the image is not disposed.</summary>
    /// <param name="image">The image, Bgra32 or Rgba32.</param>
    /// <param name="map">The map, row-major <paramref name="mapHeight"/> x <paramref name="mapWidth"/>.</param>
    /// <param name="mapHeight">Rows of the map.</param>
    /// <param name="mapWidth">Columns of the map.</param>
    /// <param name="opacity">0 shows only the image, 1 only the colours.</param>
    /// <returns>PNG bytes of an image of the input's size.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="image"/> is null.</exception>
    /// <exception cref="ArgumentException">The map is not finite or not <paramref name="mapHeight"/> x <paramref name="mapWidth"/> long.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A map side below 1, or an opacity outside 0..1.</exception>
    public static byte[] RenderPng(MLImage image, ReadOnlySpan<float> map, int mapHeight, int mapWidth, float opacity = DefaultOpacity)
    {
        ArgumentNullException.ThrowIfNull(image);
        CheckMap(map, mapHeight, mapWidth, opacity);
        return Render(image, map, mapHeight, mapWidth, opacity);
    }

    private static void CheckMap(ReadOnlySpan<float> map, int mapHeight, int mapWidth, float opacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(mapHeight, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(mapWidth, 1);
        if (!(opacity >= 0 && opacity <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(opacity), opacity, "Expected 0 (image only) to 1 (colours only).");
        }

        if (map.Length != (long)mapHeight * mapWidth)
        {
            throw new ArgumentException($"The map has {map.Length} values but {mapHeight} x {mapWidth} = {(long)mapHeight * mapWidth} were announced.", nameof(map));
        }

        foreach (var value in map)
        {
            if (!float.IsFinite(value))
            {
                throw new ArgumentException($"The map holds a non-finite value ({value}); a heat map of finite scores is expected.", nameof(map));
            }
        }
    }

    private static byte[] Render(MLImage image, ReadOnlySpan<float> map, int mapHeight, int mapWidth, float opacity)
    {
        var (width, height) = (image.Width, image.Height);
        var (red, blue) = image.PixelFormat == MLPixelFormat.Rgba32 ? (0, 2) : (2, 0);
        var scaled = Normalize(map);
        var source = image.Pixels;
        var rgba = new byte[width * height * 4];
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var value = Bilinear(scaled, mapHeight, mapWidth, (y + 0.5f) * mapHeight / height - 0.5f, (x + 0.5f) * mapWidth / width - 0.5f);
                var (r, g, b) = Jet(value);
                var at = ((y * width) + x) * 4;
                rgba[at] = Blend(source[at + red], r, opacity);
                rgba[at + 1] = Blend(source[at + 1], g, opacity);
                rgba[at + 2] = Blend(source[at + blue], b, opacity);
                rgba[at + 3] = 255;
            }
        }

        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        using var skImage = SKImage.FromPixelCopy(info, rgba);
        using var png = skImage.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }

    /// <summary>Min to 0, max to 1; a flat map is all 0 (nothing stands out).</summary>
    private static float[] Normalize(ReadOnlySpan<float> map)
    {
        var (min, max) = (float.MaxValue, float.MinValue);
        foreach (var value in map)
        {
            (min, max) = (Math.Min(min, value), Math.Max(max, value));
        }

        var range = max - min;
        var scaled = new float[map.Length];
        for (var i = 0; i < map.Length; i++)
        {
            scaled[i] = range > 0 ? (map[i] - min) / range : 0f;
        }

        return scaled;
    }

    /// <summary>Bilinear sample at map coordinates (cell centres at integers, edges clamped), as align_corners=false resizes do.</summary>
    private static float Bilinear(float[] map, int rows, int columns, float y, float x)
    {
        y = Math.Clamp(y, 0, rows - 1);
        x = Math.Clamp(x, 0, columns - 1);
        var (y0, x0) = ((int)y, (int)x);
        var (y1, x1) = (Math.Min(y0 + 1, rows - 1), Math.Min(x0 + 1, columns - 1));
        var (dy, dx) = (y - y0, x - x0);
        var top = (map[(y0 * columns) + x0] * (1 - dx)) + (map[(y0 * columns) + x1] * dx);
        var bottom = (map[(y1 * columns) + x0] * (1 - dx)) + (map[(y1 * columns) + x1] * dx);
        return (top * (1 - dy)) + (bottom * dy);
    }

    /// <summary>The jet colour map: dark blue at 0, cyan, yellow, dark red at 1.</summary>
    private static (byte R, byte G, byte B) Jet(float value)
    {
        static byte Channel(float v) => (byte)Math.Round(255 * Math.Clamp(1.5f - Math.Abs(v), 0f, 1f));
        var v4 = 4 * value;
        return (Channel(v4 - 3), Channel(v4 - 2), Channel(v4 - 1));
    }

    private static byte Blend(byte image, byte colour, float opacity) => (byte)Math.Round((image * (1 - opacity)) + (colour * opacity));
}
