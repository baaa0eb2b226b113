using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Tests.Scoring;
using static Microsoft.ML.ResNet.Tests.Scoring.ScoringFixtures;
using static Microsoft.ML.ResNet.Tests.Support.FixtureModels;
using static Microsoft.ML.ResNet.Tests.Support.ImagePipeline;

namespace Microsoft.ML.ResNet.Tests.Catalog;

[TestClass]
public sealed class ResNetClassifierEstimatorTests
{
    [TestMethod]
    public void GetOutputSchema_PixelColumn_AddsScoreKeyAndEmbedding()
    {
        var ml = new MLContext(1);
        var photos = Photos(ml);
        var pipeline = PixelPipeline(ml, SmallSize)
            .Append(ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel(), EmbeddingColumnName = "Embedding" }));

        var shape = pipeline.GetOutputSchema(PhotoShape(ml));

        var score = shape.Single(c => c.Name == "Score");
        Assert.AreEqual(SchemaShape.Column.VectorKind.Vector, score.Kind);
        Assert.AreEqual(NumberDataViewType.Single, score.ItemType);
        Assert.IsTrue(score.Annotations.Any(a => a.Name == "SlotNames"), "Score has slot names");
        var label = shape.Single(c => c.Name == "PredictedLabel");
        Assert.IsTrue(label.IsKey);
        Assert.AreEqual(SchemaShape.Column.VectorKind.Scalar, label.Kind);
        Assert.IsTrue(label.Annotations.Any(a => a.Name == "KeyValues"), "PredictedLabel has key values");
        foreach (var kind in new[] { "ScoreColumnSetId", "ScoreColumnKind", "ScoreValueKind" })
        {
            Assert.IsTrue(score.Annotations.Any(a => a.Name == kind), $"Score has {kind}");
            Assert.IsTrue(label.Annotations.Any(a => a.Name == kind), $"PredictedLabel has {kind}");
        }

        Assert.AreEqual(SchemaShape.Column.VectorKind.Vector, shape.Single(c => c.Name == "Embedding").Kind);
        Assert.IsTrue(shape.Any(c => c.Name == "ImagePath"), "input columns pass through");
    }

    [TestMethod]
    public void Defaults_PixelColumn_IsFeaturesAsInTheTrainer()
    {
        Assert.AreEqual("Features", new ResNetClassifierOptions().FeatureColumnName);
        Assert.AreEqual(new ResNetTrainerOptions().FeatureColumnName, new ResNetClassifierOptions().FeatureColumnName);
        Assert.IsNull(new ResNetClassifierOptions().EmbeddingColumnName, "the scorer writes the embedding only when asked");
    }

    [TestMethod]
    public void ResNet34Classify_NullInputColumn_ReadsFeatures()
    {
        const int size = 32;
        var ml = new MLContext(1);
        var photos = PhotoPixels(ml, size);
        var pixels = ml.Transforms.CopyColumns("Features", "Pixels").Fit(photos).Transform(photos);
        using var folder = TempFolder.Create();
        var onnx = folder.File("resnet34.onnx");
        using (var network = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet34, 2)))
        {
            File.WriteAllBytes(onnx, ResNetOnnxExporter.ToBytes(network, new OnnxExportOptions { Labels = ["a", "b"], InputHeight = size, InputWidth = size }));
        }

        using var transformer = ml.Transforms.ResNet34Classify("Guess", null, onnx).Fit(pixels);
        var guesses = transformer.Transform(pixels).GetColumn<uint>("Guess").ToArray();

        Assert.AreEqual("Features", transformer.FeatureColumnName);
        Assert.AreEqual("Guess", transformer.PredictedLabelColumnName);
        Assert.IsTrue(guesses.Length > 0 && guesses.All(g => g is 1 or 2), string.Join(", ", guesses));
    }

    [TestMethod]
    public void ResNet34Classify_OptionsNamingResNet18_RefusesItAsTheTrainerDoesNamingResNetClassify()
    {
        var ml = new MLContext(1);
        var options = new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel(), Architecture = ResNetArchitecture.ResNet18 };

        var error = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.ResNet34Classify(options));
        var trainerError = Assert.ThrowsExactly<ArgumentException>(
            () => ml.MulticlassClassification.Trainers.ResNet34(new ResNetTrainerOptions { Architecture = ResNetArchitecture.ResNet18 }));

        Assert.AreEqual(nameof(ResNetClassifierOptions.Architecture), error.ParamName);
        Assert.AreEqual(error.ParamName, trainerError.ParamName);
        StringAssert.Contains(error.Message, "ResNet18");
        StringAssert.Contains(error.Message, "Transforms.ResNetClassify(options)");

        // The explicit architecture is honoured where any ResNet is welcome.
        using var transformer = ml.Transforms.ResNetClassify(options).Fit(PhotoPixels(ml, SmallSize));
        Assert.HasCount(SmallLabels.Length, transformer.Labels);
    }

    [TestMethod]
    public void GetOutputSchema_ModelFileMissingThenCreated_TriesAgainInsteadOfReplayingTheError()
    {
        var ml = new MLContext(1);
        using var folder = TempFolder.Create();
        var path = folder.File("late.onnx");
        var pipeline = PixelPipeline(ml, SmallSize).Append(ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = path }));
        Assert.ThrowsExactly<FileNotFoundException>(() => pipeline.GetOutputSchema(PhotoShape(ml)));

        File.Copy(SmallModel(), path);
        var shape = pipeline.GetOutputSchema(PhotoShape(ml));

        Assert.IsTrue(shape.Any(c => c.Name == "PredictedLabel"), "the second attempt reads the file that now exists");
    }

    [TestMethod]
    public void GetOutputSchema_MissingColumn_ListsTheColumnsThatExist()
    {
        var ml = new MLContext(1);
        var photos = Photos(ml);
        var estimator = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { ModelPath = SmallModel(), FeatureColumnName = "Pixelz" });

        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => estimator.GetOutputSchema(PhotoShape(ml)));

        Assert.AreEqual("inputSchema", error.ParamName);
        StringAssert.Contains(error.Message, "'Pixelz'");
        StringAssert.Contains(error.Message, "ImagePath");
    }

    [TestMethod]
    public void Fit_WrongPixelCount_NamesTheExpectedHeightAndWidth()
    {
        var ml = new MLContext(1);
        var photos = Photos(ml);
        var pixels = PixelPipeline(ml, 32).Fit(photos).Transform(photos);
        var estimator = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel() });

        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => estimator.Fit(pixels));

        Assert.AreEqual("inputSchema", error.ParamName);
        StringAssert.Contains(error.Message, "Schema mismatch for input column 'Pixels': expected Vector<Single, 3, 64, 64>, got Vector<Single, 3, 32, 32>");
        StringAssert.Contains(error.Message, "height 64, width 64");
    }

    [TestMethod]
    public void GetOutputSchema_TextColumnAsPixels_IsASchemaMismatch()
    {
        var ml = new MLContext(1);
        var photos = Photos(ml);
        var estimator = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { ModelPath = SmallModel(), FeatureColumnName = "ImagePath" });

        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => estimator.GetOutputSchema(PhotoShape(ml)));

        StringAssert.Contains(error.Message, "Schema mismatch for input column 'ImagePath': expected Vector<Single, 3, 64, 64>, got String");
    }

    [TestMethod]
    public void ResNet34Classify_ResNet18Onnx_ThrowsNamingTheArchitecture()
    {
        var ml = new MLContext(1);
        var photos = Photos(ml);
        var estimator = ml.Transforms.ResNet34Classify("PredictedLabel", "Pixels", SmallModel());

        var error = Assert.ThrowsExactly<ArgumentException>(() => estimator.GetOutputSchema(PhotoShape(ml)));

        Assert.AreEqual("Architecture", error.ParamName);
        StringAssert.Contains(error.Message, "ResNet18");
    }

    [TestMethod]
    public void ResNetClassify_ImageSizeDifferentFromTheOnnxModel_ThrowsNamingBoth()
    {
        var ml = new MLContext(1);
        var estimator = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel(), ImageHeight = 224 });

        var error = Assert.ThrowsExactly<ArgumentException>(() => estimator.GetOutputSchema(PhotoShape(ml)));

        Assert.AreEqual("ImageHeight", error.ParamName);
        StringAssert.Contains(error.Message, "64x64");
    }

    [TestMethod]
    public void ResNetClassify_WrongLabelCount_ThrowsNamingLabels()
    {
        var ml = new MLContext(1);
        var estimator = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel(), Labels = ["a", "b", "c"] });

        var error = Assert.ThrowsExactly<ArgumentException>(() => estimator.GetOutputSchema(PhotoShape(ml)));

        Assert.AreEqual("Labels", error.ParamName);
        StringAssert.Contains(error.Message, "5 classes but 3 labels");
    }

    [TestMethod]
    public void Fit_FeaturesColumn_FeedsAnotherMLNetTrainer()
    {
        var ml = new MLContext(1);
        var photos = Photos(ml, times: 2);
        var labelled = ml.Transforms.CustomMapping<ImagePipeline.ImageRow, TruthRow>((i, o) => o.Truth = i.ImagePath.Contains("cat") ? "cat" : "other", contractName: null)
            .Append(ml.Transforms.Conversion.MapValueToKey("Label", "Truth"));
        var pipeline = labelled
            .Append(PixelPipeline(ml, SmallSize))
            .Append(ml.Transforms.ResNetClassify(new ResNetClassifierOptions
            {
                FeatureColumnName = "Pixels",
                ModelPath = SmallModel(),
                EmbeddingColumnName = "Embedding",
                ScoreColumnName = "ResNetScore",
                PredictedLabelColumnName = "ResNetLabel",
            }))
            .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(featureColumnName: "Embedding", maximumNumberOfIterations: 5));

        var model = pipeline.Fit(photos);
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(photos));

        Assert.IsGreaterThanOrEqualTo(0.0, metrics.MicroAccuracy);
        Assert.AreEqual(2, metrics.ConfusionMatrix.NumberOfClasses);
    }

    [TestMethod]
    public void ResNetClassify_MissingModelFile_ThrowsFileNotFound()
    {
        var ml = new MLContext(1);
        var estimator = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = "/nonexistent/model.onnx" });

        var error = Assert.ThrowsExactly<FileNotFoundException>(() => estimator.GetOutputSchema(PhotoShape(ml)));

        StringAssert.Contains(error.Message, "/nonexistent/model.onnx");
    }

    [TestMethod]
    [DataRow(nameof(ResNetClassifierOptions.BatchSize), 0)]
    [DataRow(nameof(ResNetClassifierOptions.BatchSize), 1025)]
    [DataRow(nameof(ResNetClassifierOptions.ImageHeight), 31)]
    [DataRow(nameof(ResNetClassifierOptions.ImageWidth), 16)]
    [DataRow(nameof(ResNetClassifierOptions.GpuDeviceId), -1)]
    [DataRow(nameof(ResNetClassifierOptions.IntraOpNumThreads), 0)]
    public void ResNetClassify_OutOfRangeOption_ThrowsNamingIt(string property, int value)
    {
        var options = new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = "model.onnx" };
        typeof(ResNetClassifierOptions).GetProperty(property)!.SetValue(options, value);

        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new MLContext().Transforms.ResNetClassify(options));

        Assert.AreEqual(property, error.ParamName);
    }

    [TestMethod]
    public void ResNetClassify_BadStageDepths_ThrowsNamingThem()
    {
        var options = new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = "model.onnx", StageDepths = [2, 2] };

        var error = Assert.ThrowsExactly<ArgumentException>(() => new MLContext().Transforms.ResNetClassify(options));

        Assert.AreEqual(nameof(ResNetClassifierOptions.StageDepths), error.ParamName);
        StringAssert.Contains(error.Message, "[2, 2]");
    }

    [TestMethod]
    public void Fit_OurWeightsWithCustomDepths_ScoresLikeTorchSharpWithoutTheOption()
    {
        using var folder = TempFolder.Create();
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 3, StageDepths: [1, 1, 1, 2]));
        model.eval();
        var path = folder.File("custom.safetensors");
        ResNetWeights.Save(model, path, ["a", "b", "c"]);
        var ml = new MLContext(1);
        var pixels = PhotoPixels(ml, SmallSize);

        using var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = path, ImageHeight = SmallSize, ImageWidth = SmallSize }).Fit(pixels);
        var scores = Scores(transformer.Transform(pixels));

        var rows = pixels.GetColumn<float[]>("Pixels").ToArray();
        using var input = TorchSharp.torch.tensor(rows.SelectMany(r => r).ToArray(), [rows.Length, 3, SmallSize, SmallSize]);
        using var noGrad = TorchSharp.torch.no_grad();
        using var probabilities = model.call(Export.ExportFixtures.Normalize(input)).softmax(1);
        var expected = Enumerable.Range(0, rows.Length).Select(i => probabilities[i].data<float>().ToArray()).ToArray();
        Assert.IsLessThanOrEqualTo(1e-4f, MaxDifference(expected, scores));
    }

    [TestMethod]
    public void ResNetClassify_StageDepthsDifferFromTheWeights_ThrowsNamingBoth()
    {
        using var folder = TempFolder.Create();
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 2, StageDepths: [1, 1, 1, 2]));
        var path = folder.File("custom.safetensors");
        ResNetWeights.Save(model, path);
        var ml = new MLContext(1);
        var estimator = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = path, StageDepths = [2, 2, 2, 3] });

        var error = Assert.ThrowsExactly<ArgumentException>(() => estimator.GetOutputSchema(PhotoShape(ml)));

        Assert.AreEqual(nameof(ResNetClassifierOptions.StageDepths), error.ParamName);
        StringAssert.Contains(error.Message, "1/1/1/2");
        StringAssert.Contains(error.Message, "2/2/2/3");
    }

    [TestMethod]
    public void ResNetClassify_EmptyModelPath_ThrowsNamingIt()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => new MLContext().Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels" }));

        Assert.AreEqual("ModelPath", error.ParamName);
    }

    [TestMethod]
    public void ResNetClassify_NullOptions_ThrowsNamingThem()
    {
        var error = Assert.ThrowsExactly<ArgumentNullException>(() => new MLContext().Transforms.ResNetClassify(null!));

        Assert.AreEqual("options", error.ParamName);
    }

    [TestMethod]
    public void ResNetClassify_SameNameForTwoOutputs_Throws()
    {
        var options = new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = "model.onnx", ScoreColumnName = "Out", PredictedLabelColumnName = "Out" };

        var error = Assert.ThrowsExactly<ArgumentException>(() => new MLContext().Transforms.ResNetClassify(options));

        StringAssert.Contains(error.Message, "must differ");
    }

    [TestMethod]
    public void Fit_GpuWithFallback_ScoresOnCpuAndLogsOneWarning()
    {
        var ml = new MLContext(1);
        var warnings = new List<string>();
        ml.Log += (_, e) =>
        {
            if (e.Kind == ChannelMessageKind.Warning)
            {
                lock (warnings)
                {
                    warnings.Add(e.Message);
                }
            }
        };
        var pixels = PhotoPixels(ml, SmallSize);

        using var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel(), GpuDeviceId = 0, FallbackToCpu = true }).Fit(pixels);
        var scores = Scores(transformer.Transform(pixels));

        if (transformer.Device != "CPU")
        {
            Assert.Inconclusive($"This machine has a usable GPU ({transformer.Device}); the fallback cannot be observed.");
        }

        Assert.HasCount(5, scores);
        Assert.HasCount(1, warnings, string.Join("\n", warnings));
        StringAssert.Contains(warnings[0], "GPU device 0");
        StringAssert.Contains(warnings[0], "CPU");
    }

    [TestMethod]
    public void Fit_GpuWithoutFallback_ThrowsNamingTheDeviceAndTheCause()
    {
        var ml = new MLContext(1);
        var pixels = PhotoPixels(ml, SmallSize);
        var estimator = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel(), GpuDeviceId = 0 });

        ResNetClassifierTransformer? transformer = null;
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => transformer = estimator.Fit(pixels), "on a machine with a GPU this test is meaningless");
        transformer?.Dispose();

        StringAssert.Contains(error.Message, "GPU device 0");
        StringAssert.Contains(error.Message, "CUDA");
        StringAssert.Contains(error.Message, "fallbackToCpu");
        Assert.IsNotNull(error.InnerException, "the ONNX Runtime error is kept as the cause");
    }

    /// <summary>The ImagePath schema as a SchemaShape (ML.NET's SchemaShape.Create is internal; a CustomMapping's
    /// GetOutputSchema describes a row type publicly).</summary>
    private static SchemaShape PhotoShape(MLContext ml) =>
        ml.Transforms.CustomMapping<NoInput, ImagePipeline.ImageRow>((_, _) => { }, contractName: null).GetOutputSchema(new SchemaShape([]));

    private sealed class NoInput
    {
    }

    private sealed class TruthRow
    {
        public string Truth { get; set; } = "";
    }

    [TestMethod]
    public void Fit_ContextGpuSettings_AreUsedWhenTheOptionsLeaveThemNull()
    {
        var ml = new MLContext(1) { GpuDeviceId = 0, FallbackToCpu = false };
        var pixels = PhotoPixels(ml, SmallSize);
        var estimator = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel(), Architecture = ResNetArchitecture.ResNet18 });

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => estimator.Fit(pixels).Dispose());

        StringAssert.Contains(error.Message, "GPU device 0");
    }
}
