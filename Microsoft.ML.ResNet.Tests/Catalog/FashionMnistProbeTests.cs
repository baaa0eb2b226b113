using System.Diagnostics;
using Microsoft.ML.ResNet.Tests.Training;
using Microsoft.ML.ResNet.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Tests.Catalog;

[TestClass]
public sealed class FashionMnistProbeTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    [TestCategory("Probe")]
    public void Probe()
    {
        string Env(string name, string fallback) => Environment.GetEnvironmentVariable(name) ?? fallback;
        var ml = new MLContext(seed: 1);
        var options = new ResNetTrainerOptions
        {
            Architecture = Enum.Parse<ResNetArchitecture>(Env("P_ARCH", "ResNet34")),
            ImageHeight = 32,
            ImageWidth = 32,
            Epochs = int.Parse(Env("P_EPOCHS", "6")),
            BatchSize = int.Parse(Env("P_BATCH", "64")),
            LearningRate = double.Parse(Env("P_LR", "0.1")),
            WeightDecay = double.Parse(Env("P_WD", "5e-4")),
            CacheInMemory = true,
            Seed = 1,
            Progress = p => { if (p.IsEpochEnd) TestContext.WriteLine($"{DateTime.UtcNow:HH:mm:ss} {p}"); },
        };
        var watch = Stopwatch.StartNew();
        var train = TrainingData.LoadImages(ml, TestPaths.FashionMnistTrain, 32);
        var test = TrainingData.LoadImages(ml, TestPaths.FashionMnistTest, 32);
        using var trained = ml.MulticlassClassification.Trainers.ResNet(options).Train(train);
        var (accuracy, loss) = new ResNetTrainingLoop(trained.Settings, CPU, null).Evaluate(
            trained.Model, new BatchFeeder(test, TrainingData.Features, TrainingData.Label, trained.Settings, DataSplit.All), CancellationToken.None);
        TestContext.WriteLine($"test accuracy {accuracy:0.000} loss {loss:0.000} in {watch.Elapsed}");
    }
}
