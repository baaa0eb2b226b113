using ImageClassification.Cli;
using ImageClassification.Model;

namespace Microsoft.ML.ResNet.Tests.Samples;

/// <summary>
/// The sample's <c>train</c> options as the recipe sees them: <c>--variant</c> (torchvision's wiring by default, the seed's on
/// request: 224x224, from scratch), <c>--arch</c> spellings, options overriding the recipe, and contradictions refused.
/// </summary>
[TestClass]
public sealed class TrainCommandSettingsTests
{
    [TestMethod]
    public void ToRecipe_VariantSeed_IsTheSeedsResNet34FromScratchAt224()
    {
        var options = new TrainCommandSettings { Variant = "seed" };

        var recipe = options.ToRecipe();

        Assert.IsTrue(options.Validate().Successful, options.Validate().Message);
        Assert.AreEqual(ResNetVariant.ProjectionShortcuts, options.Wiring);
        Assert.AreEqual(ResNetArchitecture.ResNet34, recipe.Architecture);
        Assert.AreEqual(224, recipe.ImageSize);
        Assert.AreEqual(ResNetStartingWeights.Random, recipe.StartingWeights);
    }

    /// <summary>--bf16 reaches the trainer's TrainInBFloat16 where the CPU computes bfloat16, and is refused elsewhere.</summary>
    [TestMethod]
    public void ToTrainerOptions_BFloat16_AsksForTheBFloat16StepOrIsRefused()
    {
        var settings = new TrainCommandSettings { FromScratch = true, BFloat16 = true };

        var result = settings.Validate();

        if (CpuFeatures.HasNativeBFloat16)
        {
            Assert.IsTrue(result.Successful, result.Message);
            Assert.IsTrue(settings.ToRecipe().ToTrainerOptions().TrainInBFloat16);
        }
        else
        {
            Assert.IsFalse(result.Successful);
            StringAssert.Contains(result.Message, "--bf16");
        }

        Assert.IsFalse(new TrainCommandSettings { FromScratch = true }.ToRecipe().ToTrainerOptions().TrainInBFloat16);
    }

    [TestMethod]
    public void Wiring_NotGiven_IsTorchVision()
    {
        Assert.AreEqual(ResNetVariant.TorchVision, new TrainCommandSettings().Wiring);
    }

    [TestMethod]
    public void ToRecipe_FromScratchWithOptions_OverridesTheRecipesValues()
    {
        var recipe = new TrainCommandSettings { FromScratch = true, Arch = "18", Epochs = 2, ImageSize = 48, BatchSize = 16, LearningRate = 0.01, Seed = 5 }.ToRecipe();

        Assert.AreEqual(TrainSettings.FromScratch with { Architecture = ResNetArchitecture.ResNet18, Epochs = 2, ImageSize = 48, BatchSize = 16, LearningRate = 0.01, Seed = 5 }, recipe);
    }

    [TestMethod]
    public void ToRecipe_FromScratchAlone_IsTheFromScratchRecipe()
    {
        Assert.AreEqual(TrainSettings.FromScratch, new TrainCommandSettings { FromScratch = true }.ToRecipe());
    }

    [TestMethod]
    public void Validate_VariantSeedAt64_FailsNamingBothOptions()
    {
        var result = new TrainCommandSettings { Variant = "seed", ImageSize = 64 }.Validate();

        Assert.IsFalse(result.Successful);
        StringAssert.Contains(result.Message, "--variant seed");
        StringAssert.Contains(result.Message, "--image-size 64");
    }

    [TestMethod]
    [DataRow("resnext", "Option '--variant' expects one of torchvision, seed, got 'resnext'.")]
    public void Validate_UnknownWiring_FailsListingTheChoices(string variant, string message)
    {
        Assert.AreEqual(message, new TrainCommandSettings { Variant = variant }.Validate().Message);
    }

    [TestMethod]
    public void Validate_WeightsAndFromScratch_FailsNamingBoth()
    {
        var weights = Path.Combine(TestPaths.TestData, "black", "black-28x28.png");

        var result = new TrainCommandSettings { Weights = weights, FromScratch = true }.Validate();

        StringAssert.Contains(result.Message, "'--weights' and '--from-scratch'");
    }

    [TestMethod]
    public void Validate_MissingWeightsFile_FailsNamingTheOptionAndPath()
    {
        var weights = Path.Combine(TestPaths.TestData, "no-such-weights.pth");

        var result = new TrainCommandSettings { Weights = weights }.Validate();

        Assert.AreEqual($"Option '--weights' expects an existing weights file, got '{weights}'.", result.Message);
    }
}
