using ImageClassification.Cli;
using ImageClassification.Model;

namespace Microsoft.ML.ResNet.Tests.Samples;

/// <summary>
/// The sample's fine-tuning recipe chooses the input size from the images and leaves the epochs and frozen stages to the
/// trainer's size rule (tested in <c>FineTuningPassesTests</c>); what it reports as the passes is what the trainer will
/// run. An explicit <c>--epochs</c> keeps the rule's stages.
/// </summary>
[TestClass]
public sealed class TrainSettingsTests
{
    [TestMethod]
    [DataRow(28, 112, 3, 3)]
    [DataRow(32, 128, 2, 3)]
    [DataRow(40, 160, 1, 3)]
    [DataRow(96, 224, 1, 4)]
    public void ForImages_FineTuned_ChoosesTheSizeAndTheTrainerThePasses(int sourceSide, int size, int epochs, int frozenStages)
    {
        var settings = TrainSettings.FineTuned.ForImages(() => sourceSide);

        Assert.AreEqual(size, settings.Size);
        Assert.AreEqual((epochs, frozenStages), settings.Passes);
        var options = settings.ToTrainerOptions();
        Assert.AreEqual((null, null), (options.Epochs, options.FrozenStages), "The rule has one home: the trainer's defaults.");
        Assert.AreEqual((epochs, frozenStages), (options.ResolvedEpochs, options.ResolvedFrozenStages));
    }

    [TestMethod]
    public void ForImages_ExplicitImageSize_TakesItWithoutReadingTheImages()
    {
        var settings = (TrainSettings.FineTuned with { ImageSize = 224 }).ForImages(() => throw new AssertFailedException("The size is given: the images need not be read."));

        Assert.AreEqual((224, 1, 4), (settings.Size, settings.Passes.Epochs, settings.Passes.FrozenStages));
    }

    [TestMethod]
    public void ForImages_ExplicitEpochs_KeepsThemAndTheRulesStages()
    {
        var recipe = new TrainCommandSettings { Epochs = 2 }.ToRecipe();

        var settings = recipe.ForImages(() => 96);

        Assert.AreEqual((224, 2, 3), (settings.Size, settings.Passes.Epochs, settings.Passes.FrozenStages));
        Assert.AreEqual(2, settings.ToTrainerOptions().Epochs);
    }

    [TestMethod]
    public void ForImages_FromScratch_KeepsItsEpochsAndFreezesNothing()
    {
        var settings = TrainSettings.FromScratch.ForImages(() => 96);

        Assert.AreEqual((32, 6, 0), (settings.Size, settings.Passes.Epochs, settings.Passes.FrozenStages));
    }

    [TestMethod]
    [DataRow(0, "all stages")]
    [DataRow(3, "layer3-layer4 and the head")]
    [DataRow(4, "layer4 and the head")]
    public void LearningStages_FrozenStages_NamesWhatLearns(int frozenStages, string words)
    {
        Assert.AreEqual(words, TrainSettings.LearningStages(frozenStages));
    }
}
