using ImageClassification.Cli;
using ImageClassification.Model;

namespace Microsoft.ML.ResNet.Tests.Samples;

/// <summary>
/// The sample's fine-tuning recipe chooses its passes from the input size: its own epochs and frozen stages at 112x112,
/// fewer epochs as the area grows, one epoch of layer4 alone where not one epoch of layer3 and layer4 fits; an explicit
/// <c>--epochs</c> keeps the recipe's stages.
/// </summary>
[TestClass]
public sealed class TrainSettingsTests
{
    [TestMethod]
    [DataRow(28, 112, 3, 3)]
    [DataRow(32, 128, 2, 3)]
    [DataRow(40, 160, 1, 3)]
    [DataRow(96, 224, 1, 4)]
    public void ForImages_FineTuned_ChoosesSizeThenPassesFromTheImages(int sourceSide, int size, int epochs, int frozenStages)
    {
        var settings = TrainSettings.FineTuned.ForImages(() => sourceSide);

        Assert.AreEqual(size, settings.Size);
        Assert.AreEqual(epochs, settings.Epochs);
        Assert.AreEqual(frozenStages, settings.FrozenStages);
        var options = settings.ToTrainerOptions();
        Assert.AreEqual(epochs, options.Epochs);
        Assert.AreEqual(frozenStages, options.FrozenStages);
    }

    [TestMethod]
    public void ForImages_ExplicitImageSize_StillChoosesThePassesForIt()
    {
        var settings = (TrainSettings.FineTuned with { ImageSize = 224 }).ForImages(() => throw new AssertFailedException("The size is given: the images need not be read."));

        Assert.AreEqual((1, 4), (settings.Epochs, settings.FrozenStages));
    }

    [TestMethod]
    public void ForImages_ExplicitImageSizeBelowTheReference_KeepsTheRecipesEpochs()
    {
        var settings = (TrainSettings.FineTuned with { ImageSize = 64 }).ForImages(() => 28);

        Assert.AreEqual((3, 3), (settings.Epochs, settings.FrozenStages));
    }

    [TestMethod]
    public void ForImages_ExplicitEpochs_KeepsThemAndTheRecipesStages()
    {
        var recipe = new TrainCommandSettings { Epochs = 2 }.ToRecipe();

        var settings = recipe.ForImages(() => 96);

        Assert.AreEqual((224, 2, 3), (settings.Size, settings.Epochs, settings.FrozenStages));
    }

    [TestMethod]
    public void ForImages_FromScratch_KeepsItsEpochsAndFreezesNothing()
    {
        var settings = TrainSettings.FromScratch.ForImages(() => 96);

        Assert.AreEqual((32, TrainSettings.FromScratch.Epochs, 0), (settings.Size, settings.Epochs, settings.FrozenStages));
    }
}
