using Microsoft.ML.Data;

namespace Microsoft.ML.ResNet.Tests;

/// <summary>
/// The committed Tux Paint photo set is what tools/make_tuxpaint_photos_subset.py documents and what the
/// transfer benchmark reports: four labels, disjoint train and test photos, 96x96, every training photo with its mirror.
/// </summary>
[TestClass]
public sealed class TestDataTests
{
    private const string MirrorSuffix = "_m";
    private static readonly string[] Labels = ["Bird", "FruitVegetable", "Mammal", "Plant"];

    [TestMethod]
    public void TuxPaintPhotos_BothSplits_HaveTheFourLabelsAndDocumentedCounts()
    {
        Assert.IsTrue(Directory.Exists(TestPaths.TuxPaintPhotos), $"'{TestPaths.TuxPaintPhotos}' is missing from the test output.");

        CollectionAssert.AreEqual(Labels, LabelFolders("train"));
        CollectionAssert.AreEqual(Labels, LabelFolders("test"));
        Assert.AreEqual(246, Labels.Sum(l => Images("train", l).Length));
        Assert.AreEqual(59, Labels.Sum(l => Images("test", l).Length));
    }

    [TestMethod]
    public void TuxPaintPhotos_TrainAndTest_ShareNoSourcePhoto()
    {
        foreach (var label in Labels)
        {
            var trainSources = Images("train", label).Select(SourceName).ToHashSet();
            var shared = Images("test", label).Select(SourceName).Where(trainSources.Contains).ToList();

            Assert.IsEmpty(shared, $"{label}: photos in both train and test: {string.Join(", ", shared)}");
        }
    }

    [TestMethod]
    public void TuxPaintPhotos_EveryTrainingPhoto_HasItsExactMirror()
    {
        foreach (var path in Labels.SelectMany(l => Images("train", l)).Where(p => !Path.GetFileNameWithoutExtension(p).EndsWith(MirrorSuffix, StringComparison.Ordinal)))
        {
            var mirrorPath = Path.Combine(Path.GetDirectoryName(path)!, Path.GetFileNameWithoutExtension(path) + MirrorSuffix + ".png");
            Assert.IsTrue(File.Exists(mirrorPath), $"'{path}' has no mirror '{mirrorPath}'.");
            using var image = MLImage.CreateFromFile(path);
            using var mirror = MLImage.CreateFromFile(mirrorPath);

            Assert.AreEqual((96, 96), (image.Width, image.Height), path);
            Assert.AreEqual((96, 96), (mirror.Width, mirror.Height), mirrorPath);
            Assert.IsTrue(IsMirror(image, mirror), $"'{mirrorPath}' is not '{path}' flipped left-right.");
        }
    }

    private static string[] LabelFolders(string split) =>
        Directory.GetDirectories(Path.Combine(TestPaths.TuxPaintPhotos, split)).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    private static string[] Images(string split, string label) =>
        Directory.GetFiles(Path.Combine(TestPaths.TuxPaintPhotos, split, label), "*.png");

    private static string SourceName(string path)
    {
        var name = Path.GetFileNameWithoutExtension(path);
        return name.EndsWith(MirrorSuffix, StringComparison.Ordinal) ? name[..^MirrorSuffix.Length] : name;
    }

    private static bool IsMirror(MLImage image, MLImage mirror)
    {
        var bytesPerPixel = image.BitsPerPixel / 8;
        var a = image.Pixels;
        var b = mirror.Pixels;
        for (var y = 0; y < image.Height; y++)
        {
            for (var x = 0; x < image.Width; x++)
            {
                var left = ((y * image.Width) + x) * bytesPerPixel;
                var right = ((y * image.Width) + (image.Width - 1 - x)) * bytesPerPixel;
                if (!a.Slice(left, bytesPerPixel).SequenceEqual(b.Slice(right, bytesPerPixel)))
                {
                    return false;
                }
            }
        }

        return true;
    }
}
