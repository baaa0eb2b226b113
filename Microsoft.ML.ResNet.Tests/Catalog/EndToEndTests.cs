using Microsoft.ML.Data;
using Microsoft.ML.ResNet.Tests.Scoring;
using static Microsoft.ML.ResNet.Tests.Scoring.ScoringFixtures;
using static Microsoft.ML.ResNet.Tests.Support.FixtureModels;
using static Microsoft.ML.ResNet.Tests.Support.ImagePipeline;

namespace Microsoft.ML.ResNet.Tests.Catalog;

/// <summary>
/// Real photographs through ML.NET's image transforms and our classifier: judged by PyTorch where its numbers are the
/// reference, on our own exported ResNet-34 where the pipeline itself is under test.
/// </summary>
[TestClass]
public sealed class EndToEndTests
{
    [TestMethod]
    public void ResNet34Classify_PyTorchWeights_GivesPyTorchSoftmaxOnRealPhotos()
    {
        var fixture = PythonReference.Get("resnet34");
        var labels = Enumerable.Range(0, fixture.Outputs.Num_classes).Select(i => $"class{i}").ToArray();
        var ml = new MLContext(1);
        var photos = Photos(ml);
        var pipeline = PixelPipeline(ml, ReferenceSize)
            .Append(ml.Transforms.ResNet34Classify("PredictedLabel", "Pixels", fixture.WeightsPath, labels));

        var model = pipeline.Fit(photos);
        var scores = Scores(model.Transform(photos));
        var keys = Keys(model.Transform(photos));

        CollectionAssert.AreEqual(fixture.Outputs.Images, PhotoPaths().Select(Path.GetFileName).ToArray(), "same photos, same order");
        var difference = MaxDifference(fixture.Outputs.Probabilities, scores);
        Assert.IsTrue(difference <= 1e-4f, $"max |ours - PyTorch softmax| = {difference}");
        for (var i = 0; i < keys.Length; i++)
        {
            var expected = Array.IndexOf(fixture.Outputs.Probabilities[i], fixture.Outputs.Probabilities[i].Max());
            Assert.AreEqual((uint)expected + 1, keys[i], $"photo {fixture.Outputs.Images[i]}");
        }

        (model.LastTransformer as IDisposable)?.Dispose();
    }

    [TestMethod]
    public void Save_ThousandClassPipeline_StockLoadAgreesOnRealPhotos()
    {
        var ml = new MLContext(1);
        var photos = Photos(ml);
        var pipeline = PixelPipeline(ml, ReferenceSize).Append(ml.Transforms.ResNet34Classify("PredictedLabel", "Pixels", FixtureModels.ResNet34()));
        var model = pipeline.Fit(photos);
        using var folder = TempFolder.Create();
        try
        {
            var path = folder.File("resnet34.zip");
            var watch = System.Diagnostics.Stopwatch.StartNew();
            ml.Model.Save(model, photos.Schema, path);
            Console.WriteLine($"saved a 1000-class classifier in {watch.Elapsed.TotalSeconds:F1} s");

            var stock = ml.Model.Load(path, out _);
            var ours = model.Transform(photos);
            var theirs = stock.Transform(photos);

            Assert.IsTrue(MaxDifference(Scores(ours), Scores(theirs)) <= 1e-5f, "Score");
            CollectionAssert.AreEqual(Keys(ours), Keys(theirs), "PredictedLabel: the argmax decoded from 10 bits");
            Assert.AreEqual(new KeyDataViewType(typeof(uint), 1000), theirs.Schema["PredictedLabel"].Type);
            (stock as IDisposable)?.Dispose();
        }
        finally
        {
            (model.LastTransformer as IDisposable)?.Dispose();
        }
    }

    [TestMethod]
    public void ResNet34Classify_TorchExportedOnnx_GivesPyTorchSoftmaxOnRealPhotos()
    {
        var fixture = PythonReference.Get("resnet34");
        var onnx = ReferenceResNet34(fixture);
        var ml = new MLContext(1);
        var photos = Photos(ml);
        var pipeline = PixelPipeline(ml, ReferenceSize).Append(ml.Transforms.ResNet34Classify("PredictedLabel", "Pixels", onnx));

        var model = pipeline.Fit(photos);
        var difference = MaxDifference(fixture.Outputs.Probabilities, Scores(model.Transform(photos)));

        Assert.IsTrue(difference <= 1e-4f, $"max |ours - PyTorch softmax| = {difference}");
        (model.LastTransformer as IDisposable)?.Dispose();
    }

    [TestMethod]
    public void ResNet34ClassifyImages_ImageColumn_MatchesThePixelPipeline()
    {
        var onnx = FixtureModels.ResNet34();
        var ml = new MLContext(1);
        var photos = Photos(ml);
        var images = ml.Transforms.LoadImages(ImageColumn, imageFolder: null, inputColumnName: nameof(ImageRow.ImagePath))
            .Append(ml.Transforms.ResNet34ClassifyImages("PredictedLabel", ImageColumn, onnx));
        var pixels = PixelPipeline(ml, ReferenceSize).Append(ml.Transforms.ResNet34Classify("PredictedLabel", "Pixels", onnx));

        var fromImages = images.Fit(photos);
        var fromPixels = pixels.Fit(photos);
        var difference = MaxDifference(Scores(fromPixels.Transform(photos)), Scores(fromImages.Transform(photos)));

        Assert.IsTrue(difference <= 1e-6f, $"max |image column - pixel pipeline| = {difference}");
        (fromImages.LastTransformer as IDisposable)?.Dispose();
        (fromPixels.LastTransformer as IDisposable)?.Dispose();
    }

    [TestMethod]
    public void ResNet34ClassifyImages_BlackImageAndEmptyPath_ScoresTheImageRejectsThePathNamingTheRow()
    {
        var onnx = FixtureModels.ResNet34();
        var ml = new MLContext(1);
        using var folder = TempFolder.Create();
        var black = folder.File("black.png");
        var bgra = new byte[ReferenceSize * ReferenceSize * 4];
        for (var i = 3; i < bgra.Length; i += 4)
        {
            bgra[i] = 255;
        }

        using (var image = MLImage.CreateFromPixels(ReferenceSize, ReferenceSize, MLPixelFormat.Bgra32, bgra))
        {
            image.Save(black);
        }

        var pipeline = ml.Transforms.LoadImages(ImageColumn, imageFolder: null, inputColumnName: nameof(ImageRow.ImagePath))
            .Append(ml.Transforms.ResNet34ClassifyImages("PredictedLabel", ImageColumn, onnx));
        var model = pipeline.Fit(Photos(ml));
        try
        {
            var scores = Scores(model.Transform(Paths(ml, [black, PhotoPaths()[0]])));
            var error = Assert.ThrowsExactly<InvalidOperationException>(() => Scores(model.Transform(Paths(ml, ["", black]))));

            Assert.AreEqual(1.0, scores[0].Sum(), 1e-4, "the black image is scored");
            StringAssert.Contains(error.Message, "Row 0 (ImagePath = '')");
            StringAssert.Contains(error.Message, "no image");
        }
        finally
        {
            (model.LastTransformer as IDisposable)?.Dispose();
        }
    }

    [TestMethod]
    public void ResNet34Classify_PyTorchWeightsWithoutLabels_ThrowsNamingLabels()
    {
        var ml = new MLContext(1);
        var photos = Photos(ml);
        var estimator = ml.Transforms.ResNet34Classify("PredictedLabel", "Pixels", FixtureModels.ResNet34Pth());

        var error = Assert.ThrowsExactly<ArgumentException>(() => estimator.Fit(PixelPipeline(ml, ReferenceSize).Fit(photos).Transform(photos)));

        Assert.AreEqual("Labels", error.ParamName);
        StringAssert.Contains(error.Message, "1000");
    }
}
