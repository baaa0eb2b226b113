using ImageClassification.Data;

namespace Microsoft.ML.ResNet.Tests.Samples;

[TestClass]
public sealed class ImageFolderDatasetTests
{
    private string _root = string.Empty;

    [TestInitialize]
    public void CreateFolder() => _root = TestPaths.NewTempFolder();

    [TestCleanup]
    public void DeleteFolder() => Directory.Delete(_root, recursive: true);

    [TestMethod]
    public void Load_MissingFolder_ThrowsNamingIt()
    {
        var missing = Path.Combine(_root, "nope");

        var error = Assert.ThrowsExactly<DatasetException>(() => ImageFolderDataset.Load(missing, BadImagePolicy.Skip));

        StringAssert.Contains(error.Message, $"'{missing}' does not exist");
    }

    [TestMethod]
    public void Load_ImagesWithoutLabelFolders_ThrowsExplainingLayout()
    {
        CopyImages("Bag", _root, 2);

        var error = Assert.ThrowsExactly<DatasetException>(() => ImageFolderDataset.Load(_root, BadImagePolicy.Skip));

        StringAssert.Contains(error.Message, "no label sub-folders");
        StringAssert.Contains(error.Message, "2 image(s) directly");
    }

    [TestMethod]
    public void Load_EmptyLabelFolders_ThrowsNoReadableImages()
    {
        Directory.CreateDirectory(Path.Combine(_root, "cat"));
        Directory.CreateDirectory(Path.Combine(_root, "dog"));

        var error = Assert.ThrowsExactly<DatasetException>(() => ImageFolderDataset.Load(_root, BadImagePolicy.Skip));

        StringAssert.Contains(error.Message, "no readable images in its 2 sub-folder(s)");
    }

    [TestMethod]
    public void Load_OneLabel_ThrowsNeedsTwo()
    {
        CopyImages("Bag", Path.Combine(_root, "Bag"), 3);

        var error = Assert.ThrowsExactly<DatasetException>(() => ImageFolderDataset.Load(_root, BadImagePolicy.Skip));

        StringAssert.Contains(error.Message, "1 label(s) ('Bag')");
        StringAssert.Contains(error.Message, "at least 2");
    }

    [TestMethod]
    public void Load_UnreadableImagesWithSkip_LeavesThemOutAndReportsEach()
    {
        CopyImages("Bag", Path.Combine(_root, "Bag"), 3);
        CopyImages("Coat", Path.Combine(_root, "Coat"), 3);
        var corrupt = Path.Combine(_root, "Bag", "corrupt.png");
        var empty = Path.Combine(_root, "Coat", "empty.jpg");
        File.WriteAllText(corrupt, "not a png");
        File.WriteAllBytes(empty, []);
        File.WriteAllText(Path.Combine(_root, "Coat", "notes.txt"), "not an image extension: ignored");

        var dataset = ImageFolderDataset.Load(_root, BadImagePolicy.Skip);

        Assert.AreEqual(6, dataset.Images.Count);
        CollectionAssert.AreEqual(new[] { "Bag", "Coat" }, dataset.Labels.ToArray());
        CollectionAssert.AreEquivalent(new[] { corrupt, empty }, dataset.Skipped.Select(s => s.Path).ToArray());
        Assert.AreEqual("empty file", dataset.Skipped.Single(s => s.Path == empty).Reason);
    }

    [TestMethod]
    public void Load_UnreadableImageWithFail_ThrowsListingIt()
    {
        CopyImages("Bag", Path.Combine(_root, "Bag"), 2);
        CopyImages("Coat", Path.Combine(_root, "Coat"), 2);
        var corrupt = Path.Combine(_root, "Coat", "corrupt.png");
        File.WriteAllText(corrupt, "not a png");

        var error = Assert.ThrowsExactly<DatasetException>(() => ImageFolderDataset.Load(_root, BadImagePolicy.Fail));

        StringAssert.Contains(error.Message, "1 image file(s)");
        StringAssert.Contains(error.Message, corrupt);
    }

    [TestMethod]
    public void Split_FiveImagesPerLabel_HoldsOutOnePerLabel()
    {
        CopyImages("Bag", Path.Combine(_root, "Bag"), 5);
        CopyImages("Coat", Path.Combine(_root, "Coat"), 5);

        var (train, test) = ImageFolderDataset.Load(_root, BadImagePolicy.Skip).Split();

        Assert.AreEqual(8, train.Count);
        CollectionAssert.AreEqual(new[] { "Bag", "Coat" }, test.Select(i => i.Label).ToArray());
        Assert.IsFalse(train.Select(i => i.ImagePath).Intersect(test.Select(i => i.ImagePath)).Any());
    }

    [TestMethod]
    public void TrainTestDataLoad_TrainAndTestFolders_UsesThemAsSplit()
    {
        CopyImages("Bag", Path.Combine(_root, "train", "Bag"), 3);
        CopyImages("Coat", Path.Combine(_root, "train", "Coat"), 3);
        CopyImages("Bag", Path.Combine(_root, "test", "Bag"), 2);

        var data = TrainTestData.Load(_root, testFolder: null, BadImagePolicy.Skip);

        Assert.AreEqual(6, data.Train.Count);
        Assert.AreEqual(2, data.Test.Count);
    }

    [TestMethod]
    public void TrainTestDataLoad_TestLabelUnknownToTraining_ThrowsNamingIt()
    {
        CopyImages("Bag", Path.Combine(_root, "train", "Bag"), 2);
        CopyImages("Coat", Path.Combine(_root, "train", "Coat"), 2);
        CopyImages("Dress", Path.Combine(_root, "test", "Dress"), 2);

        var error = Assert.ThrowsExactly<DatasetException>(() => TrainTestData.Load(_root, testFolder: null, BadImagePolicy.Skip));

        StringAssert.Contains(error.Message, "'Dress'");
    }

    private static void CopyImages(string fashionLabel, string destination, int count)
    {
        Directory.CreateDirectory(destination);
        foreach (var file in Directory.GetFiles(Path.Combine(TestPaths.FashionMnistTrain, fashionLabel), "*.png").Order().Take(count))
        {
            File.Copy(file, Path.Combine(destination, Path.GetFileName(file)));
        }
    }
}
