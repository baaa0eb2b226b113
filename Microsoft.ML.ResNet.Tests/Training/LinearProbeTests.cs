using Microsoft.ML.ResNet.Catalog;
using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Tests.Training;

/// <summary>The head fitted to frozen ImageNet features before fine-tuning, on real photographs.</summary>
[TestClass]
public sealed class LinearProbeTests
{
    // Measured at 112x112: 1.000 on the 246 training photos and 0.864 (51 of 59) on the test photos (AMD EPYC, 2 cores,
    // 17 s on a busy machine); the built-in DnnFeaturizeImage + LbfgsMaximumEntropy reaches 0.949 at its 224x224.
    private const double TrainFloor = 0.95;
    private const double TestFloor = 0.8;

    public TestContext TestContext { get; set; } = null!;

    /// <summary>
    /// From the featurizer package's ImageNet network (the test project references the package), the head fitted on the
    /// committed Tux Paint photographs' training half separates them and carries over to the test half, through the full
    /// forward pass (so the standardization folded into fc is right), while the backbone is untouched.
    /// </summary>
    [TestMethod]
    public void FitHead_ImageNetFeaturesOfRealPhotos_SeparatesTrainingPhotosAndGeneralizes()
    {
        const int size = 112;
        var ml = new MLContext(seed: 1);
        var train = TrainingData.LoadImages(ml, Path.Combine(TestPaths.TuxPaintPhotos, "train"), size, out var pipeline);
        var test = pipeline.Transform(TrainingData.ImageRows(ml, Path.Combine(TestPaths.TuxPaintPhotos, "test")));
        var options = new ResNetTrainerOptions { ImageHeight = size, ImageWidth = size, StartingWeights = ResNetStartingWeights.ImageNet, Seed = 1 };
        using var start = PretrainedStart.Open(options)!;
        var settings = start.ApplyTo(TrainerOptionsResolver.Resolve(options, seed: 1));
        using var model = new ResNetModel(new ResNetSpec(settings.Architecture, 4, StageDepths: settings.StageDepths));
        start.LoadInto(model);
        var backboneBefore = Backbone(model);

        var trainAccuracy = LinearProbe.FitHead(model, new BatchFeeder(train, TrainingData.Features, TrainingData.Label, settings, DataSplit.All), settings, CPU, bfloat16: null, CancellationToken.None);
        var (testAccuracy, _) = new ResNetTrainingLoop(settings, CPU, null).Evaluate(model, new BatchFeeder(test, TrainingData.Features, TrainingData.Label, settings, DataSplit.All), CancellationToken.None);

        TestContext.WriteLine($"Linear probe at {size}x{size}: train accuracy {trainAccuracy:0.000}, test accuracy {testAccuracy:0.000}");
        Assert.IsTrue(trainAccuracy >= TrainFloor, $"Training accuracy {trainAccuracy:0.000} is below {TrainFloor}.");
        Assert.IsTrue(testAccuracy >= TestFloor, $"Test accuracy {testAccuracy:0.000} is below {TestFloor} (chance: 0.25).");
        var backboneAfter = Backbone(model);
        foreach (var (key, values) in backboneBefore)
        {
            CollectionAssert.AreEqual(values, backboneAfter[key], $"'{key}' changed: the probe must fit only fc.");
        }
    }

    private static Dictionary<string, float[]> Backbone(ResNetModel model) =>
        model.state_dict().Where(e => !e.Key.StartsWith("fc.", StringComparison.Ordinal)).ToDictionary(e => e.Key, e => e.Value.to_type(ScalarType.Float32).data<float>().ToArray());
}
