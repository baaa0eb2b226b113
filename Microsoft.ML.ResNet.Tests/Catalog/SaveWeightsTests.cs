using System.Globalization;
using System.Text.Json;
using Microsoft.ML.Data;
using Microsoft.ML.ResNet.Tests.Training;
using static Microsoft.ML.ResNet.Tests.Scoring.ScoringFixtures;
using static Microsoft.ML.ResNet.Tests.Support.FixtureModels;
using static Microsoft.ML.ResNet.Tests.Support.ImagePipeline;

namespace Microsoft.ML.ResNet.Tests.Catalog;

/// <summary>
/// Weights out: <see cref="ResNetClassifierTransformer.SaveWeights(string)"/> writes .pth and .safetensors files that
/// Debian's PyTorch loads into its own classes (strict keys and shapes) and that load back through ResNet34Classify and
/// PretrainedWeightsPath.
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed class SaveWeightsTests : TempFolderTest
{
    private const int ReferenceSize = 224;

    /// <summary>The logits of one network read two ways agree this closely (the file holds the very same floats).</summary>
    private const float LogitTolerance = 1e-4f;

    // Trained once for the two tests of its saved files, the one that reads them back in .NET and the one that gives the
    // .pth to PyTorch: each runs on its own (without Python, only the second is inconclusive) and neither trains again.
    private static readonly Lazy<Trained> TrainedNetwork = new(Trained.OnSyntheticImages, LazyThreadSafetyMode.ExecutionAndPublication);

    [ClassCleanup]
    public static void DisposeTrainedNetwork()
    {
        if (TrainedNetwork.IsValueCreated)
        {
            TrainedNetwork.Value.Classifier.Dispose();
        }
    }

    [TestMethod]
    public void SaveWeights_PthFromPyTorchWeights_TorchVisionLoadsItStrictlyWithTheSameLogits()
    {
        var fixture = PythonReference.Get("resnet34");
        var ml = new MLContext(1);
        var pixels = PhotoPixels(ml, ReferenceSize);
        using var transformer = ml.Transforms.ResNet34Classify("PredictedLabel", "Pixels", fixture.WeightsPath, labels: ClassNames(1000)).Fit(pixels);
        var path = Path.Combine(Folder, "resnet34.pth");

        transformer.SaveWeights(path);

        var pytorch = LoadInPyTorch(path, "resnet34", 1000, fixture.InputPath);
        Assert.AreEqual(218, pytorch.Keys, "torchvision's resnet34 state dict has 218 entries");
        var logits = MaxDifference(fixture.Outputs.Logits, pytorch.Logits);
        var probabilities = MaxDifference(Scores(transformer.Transform(pixels)), pytorch.Probabilities);
        Console.WriteLine($"resnet34 .pth round trip: max |logit difference| {logits}, max |probability difference| (our ONNX scores) {probabilities}");
        Assert.IsLessThanOrEqualTo(LogitTolerance, logits, "PyTorch's logits from our file vs from its own file");
        Assert.IsLessThanOrEqualTo(1e-4f, probabilities, "our scores vs PyTorch's on our file");
    }

    [TestMethod]
    public void SaveWeights_TrainedNetwork_ResNetClassifyReadsBothFilesBackWithTheTrainersScores()
    {
        var (ml, data, trained, scores) = TrainedNetwork.Value;
        var pth = Path.Combine(Folder, "trained.pth");
        var safetensors = Path.Combine(Folder, "trained.safetensors");

        trained.SaveWeights(pth);
        trained.SaveWeights(safetensors);

        // The safetensors file says everything: no labels, architecture or size beyond the image size is needed.
        using var fromSafetensors = ml.Transforms.ResNetClassify(new ResNetClassifierOptions
        {
            ModelPath = safetensors, FeatureColumnName = TrainingData.Features, ImageHeight = 32, ImageWidth = 32,
        }).Fit(data);
        CollectionAssert.AreEqual(trained.Labels.ToArray(), fromSafetensors.Labels.ToArray());
        Assert.IsLessThanOrEqualTo(1e-5f, MaxDifference(scores, Scores(fromSafetensors.Transform(data))), "scores after the safetensors round trip");

        using var fromPth = ml.Transforms.ResNetClassify(new ResNetClassifierOptions
        {
            ModelPath = pth, Architecture = ResNetArchitecture.ResNet18, Labels = trained.Labels, FeatureColumnName = TrainingData.Features, ImageHeight = 32, ImageWidth = 32,
        }).Fit(data);
        Assert.IsLessThanOrEqualTo(1e-5f, MaxDifference(scores, Scores(fromPth.Transform(data))), "scores after the .pth round trip");
        Assert.IsTrue(fromPth.HasWeights, "a transformer built from weights can save them again");
    }

    [TestMethod]
    public void SaveWeights_TrainedNetwork_PyTorchScoresThePthLikeTheTrainer()
    {
        // Before the shared training: without PyTorch this test is inconclusive at once.
        PythonReference.RequireModule("torchvision");
        var (_, data, trained, scores) = TrainedNetwork.Value;
        var pth = Path.Combine(Folder, "trained.pth");

        trained.SaveWeights(pth);

        var input = Path.Combine(Folder, "input.bin");
        WritePixels(input, data.GetColumn<float[]>(TrainingData.Features));
        var pytorch = LoadInPyTorch(pth, "resnet18", 3, input, size: 32);
        Assert.IsLessThanOrEqualTo(1e-4f, MaxDifference(scores, pytorch.Probabilities), "PyTorch on our .pth vs the trainer's scores");
    }

    [TestMethod]
    public void SaveWeights_Pth_ContinuesTrainingThroughPretrainedWeightsPath()
    {
        var ml = new MLContext(1);
        var data = TrainingData.Synthetic(ml, rows: 16, classes: 3, size: 32);
        using var trained = ml.MulticlassClassification.Trainers.ResNet(Training.ResNetTrainingLoopTests.SmallOptions()).Fit(data);
        var path = Path.Combine(Folder, "start.pth");
        trained.SaveWeights(path);
        var options = Training.ResNetTrainingLoopTests.SmallOptions();
        options.PretrainedWeightsPath = path;
        var messages = new List<string>();
        ml.Log += (_, e) => messages.Add(e.Message);

        using var continued = ml.MulticlassClassification.Trainers.ResNet(options).Fit(data);

        Assert.IsTrue(messages.Any(m => m.Contains($"Starting from weights '{path}'", StringComparison.Ordinal)), "the run starts from the saved file");
        Assert.HasCount(16, Scores(continued.Transform(data)));
    }

    [TestMethod]
    public void SaveWeights_MissingFolder_ThrowsNamingThePathAndWritesNothing()
    {
        using var transformer = SmallTrained(out _);
        var path = Path.Combine(Folder, "absent", "model.pth");

        var error = Assert.ThrowsExactly<DirectoryNotFoundException>(() => transformer.SaveWeights(path));

        StringAssert.Contains(error.Message, path);
        Assert.IsFalse(Directory.Exists(Path.Combine(Folder, "absent")), "no folder is created");
    }

    [TestMethod]
    public void SaveWeights_UnknownExtension_ThrowsNamingThePathAndTheAcceptedOnes()
    {
        using var transformer = SmallTrained(out _);
        var path = Path.Combine(Folder, "model.bin");

        var error = Assert.ThrowsExactly<ArgumentException>(() => transformer.SaveWeights(path));

        Assert.AreEqual("path", error.ParamName);
        StringAssert.Contains(error.Message, path);
        StringAssert.Contains(error.Message, ".safetensors");
        Assert.IsEmpty(Directory.GetFiles(Folder));
    }

    [TestMethod]
    public void SaveWeights_ExplicitFormat_WritesItWhateverTheExtension()
    {
        using var transformer = SmallTrained(out var data);
        var path = Path.Combine(Folder, "weights.bin");

        transformer.SaveWeights(path, ResNetWeightsFormat.Safetensors);

        var ml = new MLContext(1);
        using var reloaded = ml.Transforms.ResNetClassify(new ResNetClassifierOptions
        {
            ModelPath = path, FeatureColumnName = TrainingData.Features, ImageHeight = 32, ImageWidth = 32,
        }).Fit(data);
        Assert.IsLessThanOrEqualTo(1e-5f, MaxDifference(Scores(transformer.Transform(data)), Scores(reloaded.Transform(data))));
    }

    [TestMethod]
    public void SaveWeights_Disposed_ThrowsObjectDisposedAndWritesNothing()
    {
        var transformer = SmallTrained(out _);
        transformer.Dispose();

        Assert.ThrowsExactly<ObjectDisposedException>(() => transformer.SaveWeights(Path.Combine(Folder, "late.pth")));

        Assert.IsEmpty(Directory.GetFiles(Folder));
    }

    [TestMethod]
    public void SaveWeights_SeedLayoutForTorchVisionWiring_ThrowsNamingTheVariant()
    {
        using var transformer = SmallTrained(out _);

        var error = Assert.ThrowsExactly<ArgumentException>(() => transformer.SaveWeights(Path.Combine(Folder, "seed.pth"), ResNetWeightsFormat.PyTorch, ResNetWeightsLayout.Seed));

        Assert.AreEqual("layout", error.ParamName);
        StringAssert.Contains(error.Message, nameof(ResNetVariant.ProjectionShortcuts));
        Assert.IsEmpty(Directory.GetFiles(Folder));
    }

    [TestMethod]
    public void SaveWeights_RenameFails_ThrowsNamingThePathAndLeavesNoTempFile()
    {
        using var transformer = SmallTrained(out _);

        // A folder in the way of the final rename: the write fails after the temp file was written.
        var blocked = Path.Combine(Folder, "blocked.pth");
        Directory.CreateDirectory(blocked);
        var error = Assert.ThrowsExactly<IOException>(() => transformer.SaveWeights(blocked));

        StringAssert.Contains(error.Message, blocked);
        Assert.IsEmpty(Directory.GetFiles(Folder), "no temp file is left behind");
    }

    [TestMethod]
    public void SaveWeights_FromOnnxModel_ThrowsSayingWhy()
    {
        var ml = new MLContext(1);
        using var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel() }).Fit(PhotoPixels(ml, SmallSize));

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => transformer.SaveWeights(Path.Combine(Folder, "x.pth")));

        Assert.IsFalse(transformer.HasWeights);
        StringAssert.Contains(error.Message, "BatchNorm folded");
    }

    [TestMethod]
    public void ResNetClassify_PthWithAnUnsupportedLayout_ThrowsNamingThePathAndKeys()
    {
        // A real torch.save file that is no ResNet state dict: a list of tensors.
        var path = TestPaths.ListOfTensorsPth;
        var ml = new MLContext(1);

        var error = Assert.ThrowsExactly<InvalidDataException>(
            () => ml.Transforms.ResNet34Classify("PredictedLabel", "Pixels", path, labels: ClassNames(2)).Fit(PhotoPixels(ml, ReferenceSize)));

        StringAssert.Contains(error.Message, path);
    }

    internal static void WritePixels(string path, IEnumerable<float[]> rows)
    {
        var values = rows.SelectMany(r => r).ToArray();
        var bytes = new byte[values.Length * sizeof(float)];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        File.WriteAllBytes(path, bytes);
    }

    /// <summary>Runs tools/pytorch_load_weights.py: torch.load, load_state_dict(strict=True), logits on the pixels.</summary>
    internal static PyTorchRun LoadInPyTorch(string weights, string arch, int classes, string input, int size = ReferenceSize)
    {
        PythonReference.RequireModule("torchvision");
        var output = Path.ChangeExtension(weights, ".pytorch.json");
        PythonReference.Run(
            Path.Combine(TestPaths.Tools, "pytorch_load_weights.py"), "--weights", weights, "--arch", arch,
            "--num-classes", classes.ToString(CultureInfo.InvariantCulture), "--input", input,
            "--size", size.ToString(CultureInfo.InvariantCulture), "--out", output);
        var run = JsonSerializer.Deserialize<PyTorchRun>(File.ReadAllText(output), new JsonSerializerOptions { PropertyNameCaseInsensitive = true })!;
        File.Delete(output);
        return run;
    }

    private static ResNetClassifierTransformer SmallTrained(out IDataView data)
    {
        var ml = new MLContext(1);
        data = TrainingData.Synthetic(ml, rows: 8, classes: 2, size: 32);
        return ml.MulticlassClassification.Trainers.ResNet(Training.ResNetTrainingLoopTests.SmallOptions()).Fit(data);
    }

    internal sealed record PyTorchRun(int Keys, float[][] Logits, float[][] Probabilities);

    /// <summary>A ResNet-18 trained on 16 synthetic 32x32 images of 3 classes, and its scores of them.</summary>
    private sealed record Trained(MLContext Ml, IDataView Data, ResNetClassifierTransformer Classifier, float[][] Scores)
    {
        public static Trained OnSyntheticImages()
        {
            var ml = new MLContext(1);
            var data = TrainingData.Synthetic(ml, rows: 16, classes: 3, size: 32);
            var classifier = ml.MulticlassClassification.Trainers.ResNet(Training.ResNetTrainingLoopTests.SmallOptions()).Fit(data);
            return new Trained(ml, data, classifier, Scoring.ScoringFixtures.Scores(classifier.Transform(data)));
        }
    }
}
