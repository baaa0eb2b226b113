using ImageClassification.Data;

namespace Microsoft.ML.ResNet.Tests.Samples;

[TestClass]
public sealed class ImageFolderDatasetTests : TempFolderTest
{
    [TestMethod]
    public void Load_MissingFolder_ThrowsNamingIt()
    {
        var missing = Path.Combine(Folder, "nope");

        var error = Assert.ThrowsExactly<DatasetException>(() => ImageFolderDataset.Load(missing, BadImagePolicy.Skip));

        StringAssert.Contains(error.Message, $"'{missing}' does not exist");
    }

    [TestMethod]
    public void Load_ImagesWithoutLabelFolders_ThrowsExplainingLayout()
    {
        CopyImages("Bag", Folder, 2);

        var error = Assert.ThrowsExactly<DatasetException>(() => ImageFolderDataset.Load(Folder, BadImagePolicy.Skip));

        StringAssert.Contains(error.Message, "no label sub-folders");
        StringAssert.Contains(error.Message, "2 image(s) directly");
    }

    [TestMethod]
    public void Load_EmptyLabelFolders_ThrowsNoReadableImages()
    {
        Directory.CreateDirectory(Path.Combine(Folder, "cat"));
        Directory.CreateDirectory(Path.Combine(Folder, "dog"));

        var error = Assert.ThrowsExactly<DatasetException>(() => ImageFolderDataset.Load(Folder, BadImagePolicy.Skip));

        StringAssert.Contains(error.Message, "no readable images in its 2 sub-folder(s)");
    }

    [TestMethod]
    public void Load_OneLabel_ThrowsNeedsTwo()
    {
        CopyImages("Bag", Path.Combine(Folder, "Bag"), 3);

        var error = Assert.ThrowsExactly<DatasetException>(() => ImageFolderDataset.Load(Folder, BadImagePolicy.Skip));

        StringAssert.Contains(error.Message, "1 label(s) ('Bag')");
        StringAssert.Contains(error.Message, "at least 2");
    }

    [TestMethod]
    public void Load_UnreadableImagesWithSkip_LeavesThemOutAndReportsEach()
    {
        CopyImages("Bag", Path.Combine(Folder, "Bag"), 3);
        CopyImages("Coat", Path.Combine(Folder, "Coat"), 3);
        var corrupt = Path.Combine(Folder, "Bag", "corrupt.png");
        var empty = Path.Combine(Folder, "Coat", "empty.jpg");
        File.WriteAllText(corrupt, "not a png");
        File.WriteAllBytes(empty, []);
        File.WriteAllText(Path.Combine(Folder, "Coat", "notes.txt"), "not an image extension: ignored");

        var dataset = ImageFolderDataset.Load(Folder, BadImagePolicy.Skip);

        Assert.AreEqual(6, dataset.Images.Count);
        CollectionAssert.AreEqual(new[] { "Bag", "Coat" }, dataset.Labels.ToArray());
        CollectionAssert.AreEquivalent(new[] { corrupt, empty }, dataset.Skipped.Select(s => s.Path).ToArray());
        Assert.AreEqual("empty file", dataset.Skipped.Single(s => s.Path == empty).Reason);
    }

    [TestMethod]
    public void Load_UnreadableImageWithFail_ThrowsListingIt()
    {
        CopyImages("Bag", Path.Combine(Folder, "Bag"), 2);
        CopyImages("Coat", Path.Combine(Folder, "Coat"), 2);
        var corrupt = Path.Combine(Folder, "Coat", "corrupt.png");
        File.WriteAllText(corrupt, "not a png");

        var error = Assert.ThrowsExactly<DatasetException>(() => ImageFolderDataset.Load(Folder, BadImagePolicy.Fail));

        StringAssert.Contains(error.Message, "1 image file(s)");
        StringAssert.Contains(error.Message, corrupt);
    }

    [TestMethod]
    public void Split_FiveImagesPerLabel_HoldsOutOnePerLabel()
    {
        CopyImages("Bag", Path.Combine(Folder, "Bag"), 5);
        CopyImages("Coat", Path.Combine(Folder, "Coat"), 5);

        var (train, test) = ImageFolderDataset.Load(Folder, BadImagePolicy.Skip).Split();

        Assert.AreEqual(8, train.Count);
        CollectionAssert.AreEqual(new[] { "Bag", "Coat" }, test.Select(i => i.Label).ToArray());
        Assert.IsFalse(train.Select(i => i.ImagePath).Intersect(test.Select(i => i.ImagePath)).Any());
    }

    [TestMethod]
    public void TrainTestDataLoad_TrainAndTestFolders_UsesThemAsSplit()
    {
        CopyImages("Bag", Path.Combine(Folder, "train", "Bag"), 3);
        CopyImages("Coat", Path.Combine(Folder, "train", "Coat"), 3);
        CopyImages("Bag", Path.Combine(Folder, "test", "Bag"), 2);

        var data = TrainTestData.Load(Folder, testFolder: null, BadImagePolicy.Skip);

        Assert.AreEqual(6, data.Train.Count);
        Assert.AreEqual(2, data.Test.Count);
    }

    [TestMethod]
    public void TrainTestDataLoad_TestLabelUnknownToTraining_ThrowsNamingIt()
    {
        CopyImages("Bag", Path.Combine(Folder, "train", "Bag"), 2);
        CopyImages("Coat", Path.Combine(Folder, "train", "Coat"), 2);
        CopyImages("Dress", Path.Combine(Folder, "test", "Dress"), 2);

        var error = Assert.ThrowsExactly<DatasetException>(() => TrainTestData.Load(Folder, testFolder: null, BadImagePolicy.Skip));

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
