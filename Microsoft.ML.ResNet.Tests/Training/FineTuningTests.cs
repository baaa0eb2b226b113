using Microsoft.ML.ResNet.Modeling;

namespace Microsoft.ML.ResNet.Tests.Training;

/// <summary>Starting from PyTorch weights (a 1000-class ResNet-18 .pth under torchvision's keys) with a fresh head.</summary>
[TestClass]
public sealed class FineTuningTests
{
    [TestMethod]
    public void Train_PthWeightsFrozenBackbone_ChangesOnlyFc()
    {
        var weights = FixtureModels.ResNet18Pth();
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 32, classes: 4, size: 32);
        var options = ResNetTrainingLoopTests.SmallOptions(epochs: 2);
        options.PretrainedWeightsPath = weights;
        options.FreezeBackbone = true;
        using var loaded = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 4));
        ResNetWeights.Load(loaded, weights, freshHead: true);
        var before = loaded.state_dict().ToDictionary(e => e.Key, e => e.Value.to_type(TorchSharp.torch.ScalarType.Float32).data<float>().ToArray());

        using var trained = ResNetTrainingLoopTests.Train(ml, data, options);

        var after = ResNetTrainingLoopTests.Weights(trained);
        var changed = after.Where(e => !e.Value.SequenceEqual(before[e.Key])).Select(e => e.Key).OrderBy(k => k).ToList();
        CollectionAssert.AreEqual(new[] { "fc.bias", "fc.weight" }, changed, $"Changed: {string.Join(", ", changed)}");
        Assert.AreEqual(4, trained.Model.fc.weight!.shape[0], "The head is sized to the label's classes, not the file's 1000.");
    }

    [TestMethod]
    public void Train_PthWeightsUnfrozen_ChangesBackboneToo()
    {
        var weights = FixtureModels.ResNet18Pth();
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 32, classes: 4, size: 32);
        var options = ResNetTrainingLoopTests.SmallOptions();
        options.PretrainedWeightsPath = weights;
        using var loaded = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 4));
        ResNetWeights.Load(loaded, weights, freshHead: true);
        var conv1 = loaded.conv1.weight!.data<float>().ToArray();

        using var trained = ResNetTrainingLoopTests.Train(ml, data, options);

        CollectionAssert.AreNotEqual(conv1, trained.Model.conv1.weight!.data<float>().ToArray());
    }

    [TestMethod]
    public void Train_WeightsOfOtherArchitecture_ThrowsListingShapes()
    {
        var weights = FixtureModels.ResNet18Pth();
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 16, classes: 2, size: 32);
        var options = ResNetTrainingLoopTests.SmallOptions();
        options.Architecture = ResNetArchitecture.ResNet34;
        options.PretrainedWeightsPath = weights;

        var error = Assert.ThrowsExactly<InvalidDataException>(() => ResNetTrainingLoopTests.Train(ml, data, options));

        StringAssert.Contains(error.Message, weights);
    }
}
