using Microsoft.ML.Data;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Scoring;
using static Microsoft.ML.ResNet.Tests.Catalog.SaveWeightsTests;
using static Microsoft.ML.ResNet.Tests.Scoring.ScoringFixtures;
using static Microsoft.ML.ResNet.Tests.Support.FixtureModels;
using static Microsoft.ML.ResNet.Tests.Support.ImagePipeline;

namespace Microsoft.ML.ResNet.Tests.Catalog;

/// <summary>
/// The seed project's own ResNet-34 (tools/seed_resnet.py) through the public API: its state dict scores in an ML.NET
/// pipeline without options, exports to ONNX that matches PyTorch, saves back in its own layout, and trains at 224x224.
/// PyTorch judges the numbers; the tests of wiring detection and its errors take the seed's layout as our writer makes it
/// (<see cref="FixtureModels.SeedPth"/>), which the PyTorch tests here show the seed's class loads.
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed class SeedNetworkTests : TempFolderTest
{
    private const int Size = ResNetSpec.FixedPoolInputSize;

    // Trained once for the test of its training and the test that gives its weights to the seed's PyTorch class: each
    // runs on its own (without Python, only the second is inconclusive) and neither trains again.
    private static readonly Lazy<SeedTraining> TrainedSeed = new(SeedTraining.OnPhotos, LazyThreadSafetyMode.ExecutionAndPublication);

    [ClassCleanup]
    public static void DisposeTrainedSeed()
    {
        if (TrainedSeed.IsValueCreated)
        {
            TrainedSeed.Value.Classifier.Dispose();
        }
    }

    [TestMethod]
    public void ResNet34Classify_SeedPthWithoutVariant_ScoresLikePyTorch()
    {
        var fixture = PythonReference.Get("seed");
        var ml = new MLContext(1);
        var pixels = PhotoPixels(ml, Size);

        using var transformer = ml.Transforms.ResNet34Classify("PredictedLabel", "Pixels", fixture.WeightsPath, labels: ClassNames(1000)).Fit(pixels);

        var difference = MaxDifference(fixture.Outputs.Probabilities, Scores(transformer.Transform(pixels)));
        Console.WriteLine($"seed .pth in ResNet34Classify: max |probability difference| {difference}");
        Assert.IsLessThanOrEqualTo(1e-5f, difference, $"max |probability difference| {difference}");
    }

    [TestMethod]
    public void ExportedOnnx_SeedWeights_LogitsMatchPyTorchInApplyOnnxModelAndScoreWithoutOptions()
    {
        var fixture = PythonReference.Get("seed");
        var onnxPath = Path.Combine(Folder, "seed.onnx");
        using (var file = WeightsFile.Read(fixture.WeightsPath))
        using (var model = new ResNetModel(file.DescribedSpec!))
        {
            ResNetWeights.Apply(model, file, freshHead: false);
            ResNetOnnxExporter.Export(model, onnxPath, new OnnxExportOptions { Labels = ClassNames(1000), InputHeight = Size, InputWidth = Size });
        }

        var ml = new MLContext(1);
        var pixels = PhotoPixels(ml, Size);
        var stock = ml.Transforms.CopyColumns(OnnxContract.PixelsInput, "Pixels")
            .Append(ml.Transforms.ApplyOnnxModel([OnnxContract.LogitsOutput], [OnnxContract.PixelsInput], onnxPath));
        using var stockModel = (IDisposable)stock.Fit(pixels);
        var logits = ((ITransformer)stockModel).Transform(pixels).GetColumn<float[]>(OnnxContract.LogitsOutput).ToArray();
        var difference = MaxDifference(fixture.Outputs.Logits, logits);
        Console.WriteLine($"seed exported ONNX in ApplyOnnxModel: max |logit difference| {difference}");
        Assert.IsLessThanOrEqualTo(1e-4f, difference, $"max |logit difference| {difference}");
        Assert.AreEqual(nameof(ResNetVariant.ProjectionShortcuts), ScoringModelInfo.Read(File.ReadAllBytes(onnxPath), onnxPath, DefaultContextSettings).Variant, "the ONNX metadata records the variant");

        using var scorer = ml.Transforms.ResNet34Classify("PredictedLabel", "Pixels", onnxPath).Fit(pixels);
        Assert.IsLessThanOrEqualTo(1e-5f, MaxDifference(fixture.Outputs.Probabilities, Scores(scorer.Transform(pixels))));
        var error = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.ResNetClassify(new ResNetClassifierOptions
        {
            FeatureColumnName = "Pixels",
            ModelPath = onnxPath, Variant = ResNetVariant.TorchVision,
        }).Fit(pixels));
        Assert.AreEqual("Variant", error.ParamName);
        StringAssert.Contains(error.Message, "ProjectionShortcuts");
    }

    [TestMethod]
    public void SaveWeights_SeedNetwork_LoadsBackIntoTheSeedsOwnClassAndWithoutOptions()
    {
        var fixture = PythonReference.Get("seed");
        var ml = new MLContext(1);
        var pixels = PhotoPixels(ml, Size);
        using var transformer = ml.Transforms.ResNet34Classify("PredictedLabel", "Pixels", fixture.WeightsPath, labels: ClassNames(1000)).Fit(pixels);
        var pth = Path.Combine(Folder, "seed-out.pth");
        var safetensors = Path.Combine(Folder, "seed-out.safetensors");

        transformer.SaveWeights(pth);
        transformer.SaveWeights(safetensors);

        var pytorch = LoadInPyTorch(pth, "seed", 1000, fixture.InputPath);
        var difference = MaxDifference(fixture.Outputs.Logits, pytorch.Logits);
        Console.WriteLine($"seed .pth written by SaveWeights in the seed's class: max |logit difference| {difference}");
        Assert.IsLessThanOrEqualTo(1e-4f, difference, "the seed's class on our file");
        using var reloaded = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = safetensors }).Fit(pixels);
        Assert.IsLessThanOrEqualTo(1e-5f, MaxDifference(Scores(transformer.Transform(pixels)), Scores(reloaded.Transform(pixels))));
    }

    [TestMethod]
    public void ResNetClassify_SeedPthAskedForTorchVisionWiring_ThrowsNamingBoth()
    {
        var seedPth = FixtureModels.SeedPth();
        var ml = new MLContext(1);

        var error = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.ResNetClassify(new ResNetClassifierOptions
        {
            FeatureColumnName = "Pixels",
            ModelPath = seedPth, Labels = ClassNames(1000), Variant = ResNetVariant.TorchVision,
        }).Fit(PhotoPixels(ml, Size)));

        Assert.AreEqual("Variant", error.ParamName);
        StringAssert.Contains(error.Message, seedPth);
        StringAssert.Contains(error.Message, "ProjectionShortcuts");
    }

    [TestMethod]
    public void ResNet34Trainer_SeedVariantOnPhotos_LossFallsAndTheModelScores()
    {
        var (data, transformer, losses) = TrainedSeed.Value;

        var scores = Scores(transformer.Transform(data));

        Console.WriteLine($"seed variant, 224x224, 5 photos: epoch losses {string.Join(", ", losses)}");
        Assert.HasCount(3, losses);
        Assert.IsTrue(losses[1] < losses[0] && losses[2] < losses[1], $"every epoch's loss is below the one before: {string.Join(", ", losses)}");
        Assert.HasCount(5, scores);
    }

    [TestMethod]
    public void SaveWeights_SeedVariantTrainedOnPhotos_SeedsPyTorchClassScoresThePthLikeTheTrainer()
    {
        // Before the shared training: without PyTorch this test is inconclusive at once.
        PythonReference.RequireModule("torchvision");
        var (data, transformer, _) = TrainedSeed.Value;
        var scores = Scores(transformer.Transform(data));
        var saved = Path.Combine(Folder, "trained-seed.pth");

        transformer.SaveWeights(saved);

        var input = Path.Combine(Folder, "photos.bin");
        WritePixels(input, data.GetColumn<float[]>("Features"));
        var pytorch = LoadInPyTorch(saved, "seed", transformer.Labels.Count, input);
        Assert.AreEqual(224, pytorch.Keys, "the seed's state dict: 6 stem + 16 blocks x 12 + 4 shortcuts x 6 + 2 head entries");
        Assert.IsLessThanOrEqualTo(1e-4f, MaxDifference(scores, pytorch.Probabilities), "the seed's class on the trained network");
    }

    [TestMethod]
    public void ResNet34Trainer_SeedPthAsPretrainedWeights_TrainsTheSeedsWiringWithoutTheOption()
    {
        var seedPth = FixtureModels.SeedPth();
        var ml = new MLContext(1);
        var data = LabelledPhotos(ml);

        using var transformer = ml.MulticlassClassification.Trainers.ResNet34(new ResNetTrainerOptions
        {
            PretrainedWeightsPath = seedPth, ImageHeight = Size, ImageWidth = Size, Epochs = 1, BatchSize = 5, Seed = 3, NumberOfThreads = 2,
        }).Fit(data);

        Assert.AreEqual(nameof(ResNetVariant.ProjectionShortcuts), transformer.Scorer.Info.Variant, "the exported network records the file's wiring");
        Assert.HasCount(5, Scores(transformer.Transform(data)));
    }

    /// <summary>The seed's network saved with torchvision's key names: its wiring shows in its keys (a projection on layer1).</summary>
    [TestMethod]
    public void ResNet34Trainer_SeedNetworkWithTorchVisionKeys_TrainsTheSeedsWiringWithoutTheOption()
    {
        var seedPth = FixtureModels.SeedPth();
        var ml = new MLContext(1);
        var pixels = PhotoPixels(ml, Size);
        using (var scorer = ml.Transforms.ResNet34Classify("PredictedLabel", "Pixels", seedPth, labels: ClassNames(1000)).Fit(pixels))
        {
            scorer.SaveWeights(Path.Combine(Folder, "seed-torchvision-keys.pth"), ResNetWeightsFormat.PyTorch, ResNetWeightsLayout.TorchVision);
        }

        using var transformer = ml.MulticlassClassification.Trainers.ResNet34(new ResNetTrainerOptions
        {
            PretrainedWeightsPath = Path.Combine(Folder, "seed-torchvision-keys.pth"), ImageHeight = Size, ImageWidth = Size, Epochs = 1, BatchSize = 5, Seed = 3, NumberOfThreads = 2,
        }).Fit(LabelledPhotos(ml));

        Assert.AreEqual(nameof(ResNetVariant.ProjectionShortcuts), transformer.Scorer.Info.Variant);
    }

    [TestMethod]
    public void ResNet34Trainer_SeedPthAskedForTorchVisionWiring_ThrowsNamingBoth()
    {
        var seedPth = FixtureModels.SeedPth();
        var ml = new MLContext(1);
        var trainer = ml.MulticlassClassification.Trainers.ResNet34(new ResNetTrainerOptions
        {
            PretrainedWeightsPath = seedPth, Variant = ResNetVariant.TorchVision, ImageHeight = Size, ImageWidth = Size, Epochs = 1, BatchSize = 5,
        });

        var error = Assert.ThrowsExactly<ArgumentException>(() => trainer.Fit(LabelledPhotos(ml)));

        Assert.AreEqual("Variant", error.ParamName);
        StringAssert.Contains(error.Message, seedPth);
        StringAssert.Contains(error.Message, "ProjectionShortcuts");
    }

    [TestMethod]
    public void ResNet34Trainer_SeedVariantAt64_ThrowsNamingTheVariantAndTheSize()
    {
        var ml = new MLContext(1);

        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.ResNet34(new ResNetTrainerOptions
        {
            Variant = ResNetVariant.ProjectionShortcuts, ImageHeight = 64, ImageWidth = 64,
        }));

        Assert.AreEqual("ImageHeight", error.ParamName);
        StringAssert.Contains(error.Message, "ProjectionShortcuts");
        StringAssert.Contains(error.Message, "64x64");
        StringAssert.Contains(error.Message, "224x224");
    }

    /// <summary>The five committed photographs, each its own label, as 224x224 pixels in "Features" with a key-typed "Label".</summary>
    private static IDataView LabelledPhotos(MLContext ml)
    {
        var rows = PhotoPaths().Select(p => new LabelledImage { ImagePath = p, Label = Path.GetFileNameWithoutExtension(p) }).ToArray();
        var data = ml.Data.LoadFromEnumerable(rows);
        var pipeline = PixelPipeline(ml, Size, pixelsColumn: "Features").Append(ml.Transforms.Conversion.MapValueToKey("Label"));
        return ml.Data.Cache(pipeline.Fit(data).Transform(data));
    }

    /// <summary>The seed variant trained from scratch on the five photos for three epochs, and its loss at each epoch's end.</summary>
    private sealed record SeedTraining(IDataView Data, ResNetClassifierTransformer Classifier, IReadOnlyList<double> Losses)
    {
        public static SeedTraining OnPhotos()
        {
            var ml = new MLContext(1);
            var data = LabelledPhotos(ml);
            var losses = new List<double>();
            var options = new ResNetTrainerOptions
            {
                Variant = ResNetVariant.ProjectionShortcuts,
                ImageHeight = Size,
                ImageWidth = Size,
                Epochs = 3,
                BatchSize = 5,
                Optimizer = ResNetOptimizer.AdamW,
                LearningRate = 3e-4,
                LearningRateSchedule = ResNetLearningRateSchedule.Constant,
                Crop = ResNetCropAugmentation.None,
                HorizontalFlip = false,
                Seed = 3,
                NumberOfThreads = 2,
                Progress = p => { if (p.IsEpochEnd) { losses.Add(p.Loss); } },
            };
            var classifier = ml.MulticlassClassification.Trainers.ResNet34(options).Fit(data);
            return new SeedTraining(data, classifier, losses);
        }
    }

    private sealed class LabelledImage
    {
        public string ImagePath { get; set; } = string.Empty;

        public string Label { get; set; } = string.Empty;
    }
}
