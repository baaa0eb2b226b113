using Microsoft.ML.Data;

namespace Microsoft.ML.ResNet.Tests.Visualization;

/// <summary><see cref="HeatMapImage"/> on a committed photograph: a real PNG of the photo's size, hot where the map is high.</summary>
[TestClass]
public sealed class HeatMapImageTests
{
    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    private static string Photo => ImagePipeline.PhotoPaths()[0];

    [TestMethod]
    public void RenderPng_PhotoAndPeakedMap_IsPngOfThePhotoRedAtThePeakBlueFarFromIt()
    {
        var map = new float[7 * 7];
        map[0] = 3f;

        var png = HeatMapImage.RenderPng(File.ReadAllBytes(Photo), map, 7, 7);

        CollectionAssert.AreEqual(PngSignature, png.Take(8).ToArray());
        using var original = MLImage.CreateFromFile(Photo);
        using var rendered = MLImage.CreateFromStream(new MemoryStream(png));
        Assert.AreEqual(original.Width, rendered.Width);
        Assert.AreEqual(original.Height, rendered.Height);
        var (r0, _, b0) = Rgb(rendered, 0, 0);
        var (r1, _, b1) = Rgb(rendered, rendered.Width - 1, rendered.Height - 1);
        var (or0, _, ob0) = Rgb(original, 0, 0);
        var (or1, _, ob1) = Rgb(original, original.Width - 1, original.Height - 1);
        Assert.IsGreaterThan(0, (r0 - b0) - (or0 - ob0), "the peak's corner turns red");
        Assert.IsLessThan(0, (r1 - b1) - (or1 - ob1), "the far corner turns blue");
    }

    [TestMethod]
    public void RenderPng_OpacityZero_GivesThePhotoUnchanged()
    {
        using var original = MLImage.CreateFromFile(Photo);
        var map = Enumerable.Range(0, 49).Select(i => (float)i).ToArray();

        var png = HeatMapImage.RenderPng(original, map, 7, 7, opacity: 0);

        using var rendered = MLImage.CreateFromStream(new MemoryStream(png));
        for (var y = 0; y < original.Height; y += 17)
        {
            for (var x = 0; x < original.Width; x += 13)
            {
                Assert.AreEqual(Rgb(original, x, y), Rgb(rendered, x, y), $"pixel ({x}, {y})");
            }
        }
    }

    [TestMethod]
    public void RenderPng_MapOfWrongLength_ThrowsNamingBothSizes()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => HeatMapImage.RenderPng(File.ReadAllBytes(Photo), new float[48], 7, 7));

        Assert.AreEqual("map", error.ParamName);
        StringAssert.Contains(error.Message, "48");
        StringAssert.Contains(error.Message, "49");
    }

    [TestMethod]
    public void RenderPng_BytesThatAreNotAnImage_ThrowsArgumentException()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => HeatMapImage.RenderPng("not an image"u8.ToArray(), new float[1], 1, 1));

        Assert.AreEqual("image", error.ParamName);
    }

    [TestMethod]
    public void RenderPng_NaNInMap_ThrowsArgumentException()
    {
        var map = new float[4];
        map[2] = float.NaN;

        var error = Assert.ThrowsExactly<ArgumentException>(() => HeatMapImage.RenderPng(File.ReadAllBytes(Photo), map, 2, 2));

        Assert.AreEqual("map", error.ParamName);
    }

    private static (int R, int G, int B) Rgb(MLImage image, int x, int y)
    {
        var (red, blue) = image.PixelFormat == MLPixelFormat.Rgba32 ? (0, 2) : (2, 0);
        var at = ((y * image.Width) + x) * 4;
        var pixels = image.Pixels;
        return (pixels[at + red], pixels[at + 1], pixels[at + blue]);
    }
}
