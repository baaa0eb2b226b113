using System.Diagnostics;
using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Tests.Training;

[TestClass]
public sealed class ResNetTrainingLoopTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public void Train_FashionMnistProbe_ReportsSpeed()
    {
        var ml = new MLContext(seed: 1);
        var settings = new TrainingSettings
        {
            Architecture = ResNetArchitecture.ResNet34,
            ImageHeight = 32,
            ImageWidth = 32,
            Epochs = int.Parse(Environment.GetEnvironmentVariable("PROBE_EPOCHS") ?? "6"),
            BatchSize = int.Parse(Environment.GetEnvironmentVariable("PROBE_BATCH") ?? "64"),
            LearningRate = double.Parse(Environment.GetEnvironmentVariable("PROBE_LR") ?? "0.1"),
            CacheInMemory = true,
            Seed = 1,
        };
        var train = TrainingData.LoadImages(ml, TestPaths.FashionMnistTrain, 32);
        var test = TrainingData.LoadImages(ml, TestPaths.FashionMnistTest, 32);
        manual_seed(settings.Seed);
        using var model = new ResNetModel(new ResNetSpec(settings.Architecture, 10));
        var loop = new ResNetTrainingLoop(settings, CPU, p => TestContext.WriteLine(p.ToString()));
        var watch = Stopwatch.StartNew();
        var outcome = loop.Train(model, new BatchFeeder(train, TrainingData.Features, TrainingData.Label, settings, DataSplit.All), null, CancellationToken.None);
        var (accuracy, loss) = loop.Evaluate(model, new BatchFeeder(test, TrainingData.Features, TrainingData.Label, settings, DataSplit.All), CancellationToken.None);
        TestContext.WriteLine($"test accuracy {accuracy:0.000} loss {loss:0.000} in {watch.Elapsed}");
        foreach (var e in outcome.History)
        {
            TestContext.WriteLine(e.ToString());
        }
    }
}
