using ImageClassification.Cli;
using ImageClassification.Commands;

namespace Microsoft.ML.ResNet.Tests.Samples;

/// <summary>The sample's <c>train --variant</c>: torchvision's wiring by default, the seed's on request (224x224, from scratch).</summary>
[TestClass]
public sealed class TrainVariantTests
{
    [TestMethod]
    public void ReadSettings_VariantSeed_IsTheSeedsResNet34FromScratchAt224()
    {
        var args = CommandLineArgs.Parse(["train", "--variant", "seed"]);

        var settings = TrainCommand.ReadSettings(args);

        Assert.AreEqual(ResNetVariant.ProjectionShortcuts, TrainCommand.ReadVariant(args));
        Assert.AreEqual(ResNetArchitecture.ResNet34, settings.Architecture);
        Assert.AreEqual(224, settings.ImageSize);
        Assert.AreEqual(ResNetStartingWeights.Random, settings.StartingWeights);
    }

    [TestMethod]
    public void ReadVariant_NotGiven_IsTorchVision()
    {
        Assert.AreEqual(ResNetVariant.TorchVision, TrainCommand.ReadVariant(CommandLineArgs.Parse(["train"])));
    }

    [TestMethod]
    public void ReadSettings_VariantSeedAt64_ThrowsNamingBothOptions()
    {
        var error = Assert.ThrowsExactly<UsageException>(() => TrainCommand.ReadSettings(CommandLineArgs.Parse(["train", "--variant", "seed", "--image-size", "64"])));

        StringAssert.Contains(error.Message, "--variant seed");
        StringAssert.Contains(error.Message, "--image-size 64");
    }

    [TestMethod]
    public void ReadVariant_UnknownWiring_ThrowsListingTheChoices()
    {
        var error = Assert.ThrowsExactly<UsageException>(() => TrainCommand.ReadVariant(CommandLineArgs.Parse(["train", "--variant", "resnext"])));

        StringAssert.Contains(error.Message, "torchvision, seed");
    }
}
