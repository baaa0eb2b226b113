using ImageClassification.Data;

namespace Microsoft.ML.ResNet.Tests.Samples;

[TestClass]
public sealed class TrainTestDataTests
{
    [TestMethod]
    public void RequireImagePaths_EmptyPath_ThrowsNamingRowSetAndLabel()
    {
        var rows = new List<ImageInput>
        {
            new() { ImagePath = TestPaths.BlackImage, Label = "Bag" },
            new() { ImagePath = "  ", Label = "Trouser" },
        };

        var error = Assert.ThrowsExactly<DatasetException>(() => TrainTestData.RequireImagePaths(rows, "training"));

        StringAssert.Contains(error.Message, "Row 1 of the training set (label 'Trouser') has an empty image path");
    }

    [TestMethod]
    public void RequireImagePaths_EveryRowWithAPath_Passes()
    {
        var rows = new List<ImageInput> { new() { ImagePath = TestPaths.BlackImage, Label = "Bag" } };

        TrainTestData.RequireImagePaths(rows, "test");
    }
}
