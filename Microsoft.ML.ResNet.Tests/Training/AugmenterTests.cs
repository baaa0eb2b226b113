using Microsoft.ML.ResNet.Training;

namespace Microsoft.ML.ResNet.Tests.Training;

[TestClass]
public sealed class AugmenterTests
{
    // The public API's recipe; each test overrides what it is about.
    private static readonly TrainingSettings Recipe = TrainerOptionsResolver.Resolve(new ResNetTrainerOptions(), seed: 0);

    private const int Size = 32;

    private static float[] Ramp()
    {
        var pixels = new float[3 * Size * Size];
        for (var i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (i % Size) / (float)Size + (i / (Size * Size)) * 0.01f;
        }

        return pixels;
    }

    private static TrainingSettings Settings(ResNetCropAugmentation crop, bool flip) => Recipe with
    {
        ImageHeight = Size,
        ImageWidth = Size,
        Crop = crop,
        HorizontalFlip = flip,
        CropPadding = 4,
        Mean = [0.5f, 0.5f, 0.5f],
        Std = [0.25f, 0.25f, 0.25f],
    };

    [TestMethod]
    public void Apply_WithoutRandom_OnlyNormalizes()
    {
        var source = Ramp();
        var target = new float[source.Length];

        new Augmenter(Settings(ResNetCropAugmentation.RandomResizedCrop, flip: true)).Apply(source, target, random: null);

        for (var i = 0; i < source.Length; i++)
        {
            Assert.AreEqual((source[i] - 0.5f) / 0.25f, target[i], 1e-5f);
        }
    }

    [TestMethod]
    public void Apply_FlipOnly_MirrorsRowsSometimes()
    {
        var source = Ramp();
        var augmenter = new Augmenter(Settings(ResNetCropAugmentation.None, flip: true));
        var random = new Random(1);
        int flipped = 0, kept = 0;
        for (var trial = 0; trial < 40; trial++)
        {
            var target = new float[source.Length];
            augmenter.Apply(source, target, random);
            var mirrored = Math.Abs(target[0] - (source[Size - 1] - 0.5f) / 0.25f) < 1e-5f && Math.Abs(target[Size - 1] - (source[0] - 0.5f) / 0.25f) < 1e-5f;
            var same = Math.Abs(target[0] - (source[0] - 0.5f) / 0.25f) < 1e-5f;
            Assert.IsTrue(mirrored ^ same);
            flipped += mirrored ? 1 : 0;
            kept += same ? 1 : 0;
        }

        Assert.IsTrue(flipped > 5 && kept > 5, $"flipped {flipped}, kept {kept}");
    }

    [TestMethod]
    public void Apply_CropWithPadding_ShiftsWithinPaddingAndFillsZeros()
    {
        var source = Ramp();
        var augmenter = new Augmenter(Settings(ResNetCropAugmentation.RandomCropWithPadding, flip: false));
        var random = new Random(2);
        var zero = (0 - 0.5f) / 0.25f;
        var shifted = 0;
        for (var trial = 0; trial < 20; trial++)
        {
            var target = new float[source.Length];
            augmenter.Apply(source, target, random);

            // Find the horizontal shift from a middle row of channel 0 and check it is within the padding.
            var row = Size / 2 * Size;
            var dx = Enumerable.Range(-4, 9).Single(d => Enumerable.Range(6, 20).All(x => Math.Abs(target[row + x] - ((source[row + x + d] - 0.5f) / 0.25f)) < 1e-5f || target[row + x] == zero));
            shifted += dx != 0 ? 1 : 0;
            Assert.IsTrue(target.Count(v => v == zero) <= 3 * (4 * Size * 2 + 4 * Size * 2), "At most the padding is zero.");
        }

        Assert.IsTrue(shifted > 5, $"Only {shifted} of 20 crops moved.");
    }

    [TestMethod]
    public void Apply_RandomResizedCrop_StaysInSourceRangeAndIsSeeded()
    {
        var source = Ramp();
        var augmenter = new Augmenter(Settings(ResNetCropAugmentation.RandomResizedCrop, flip: true));
        var first = new float[source.Length];
        var second = new float[source.Length];

        augmenter.Apply(source, first, new Random(9));
        augmenter.Apply(source, second, new Random(9));

        CollectionAssert.AreEqual(first, second);
        var plain = new float[source.Length];
        augmenter.Apply(source, plain, random: null);
        CollectionAssert.AreNotEqual(plain, first, "The crop changed the image (a no-op would pass every other check).");
        var other = new float[source.Length];
        augmenter.Apply(source, other, new Random(10));
        CollectionAssert.AreNotEqual(first, other, "Another seed, another crop.");
        var low = (source.Min() - 0.5f) / 0.25f;
        var high = (source.Max() - 0.5f) / 0.25f;
        Assert.IsTrue(first.All(v => v >= low - 1e-5f && v <= high + 1e-5f), "Bilinear interpolation never leaves the source range.");
    }
}
