using Microsoft.ML.ResNet.Catalog;
using Microsoft.ML.ResNet.Training;

namespace Microsoft.ML.ResNet.Tests.Training;

[TestClass]
public sealed class TrainerOptionsResolverTests
{
    [TestMethod]
    public void Resolve_Defaults_FollowOptimizerImageAndBatch()
    {
        var sgd = TrainerOptionsResolver.Resolve(new ResNetTrainerOptions { BatchSize = 64, ImageHeight = 32, ImageWidth = 48 }, seed: 3);
        var adamW = TrainerOptionsResolver.Resolve(new ResNetTrainerOptions { Optimizer = ResNetOptimizer.AdamW, LearningRateSchedule = ResNetLearningRateSchedule.CosineWithWarmup }, seed: 3);

        Assert.AreEqual(0.05, sgd.LearningRate, 1e-12, "0.1 per 128 images, scaled to batch 64.");
        Assert.AreEqual(5e-4, sgd.WeightDecay);
        Assert.AreEqual(0.3, sgd.WarmupFraction);
        Assert.AreEqual(4, sgd.CropPadding, "An eighth of the smaller side.");
        Assert.AreEqual(256L * 1024 * 1024 / (3 * 32 * 48 * 4), sgd.ShufflePoolRows);
        Assert.AreEqual(3, sgd.Seed);
        Assert.AreEqual(1e-3, adamW.LearningRate);
        Assert.AreEqual(0.05, adamW.WeightDecay);
        Assert.AreEqual(0.05, adamW.WarmupFraction);
        Assert.AreEqual(445, adamW.ShufflePoolRows, "256 MiB of 224x224 rows (602,112 bytes each).");
    }

    [TestMethod]
    public void Resolve_SameOptions_SameFingerprint_OtherwiseDifferent()
    {
        var options = new ResNetTrainerOptions();
        var first = TrainerOptionsResolver.Resolve(options, seed: 1).Fingerprint();

        Assert.AreEqual(first, TrainerOptionsResolver.Resolve(options, seed: 1).Fingerprint());
        Assert.AreEqual(first, TrainerOptionsResolver.Resolve(options, seed: 2).Fingerprint(), "The checkpoint checks the seed on its own (a run without one takes the checkpoint's).");
        options.Progress = _ => { };
        options.NumberOfThreads = 1;
        Assert.AreEqual(first, TrainerOptionsResolver.Resolve(options, seed: 1).Fingerprint(), "Reporting and threads do not change the weights.");
        options.Epochs = 25;
        Assert.AreEqual(first, TrainerOptionsResolver.Resolve(options, seed: 1).Fingerprint(), "The epoch count may change on resume.");
        options.LearningRate = 0.01;
        Assert.AreNotEqual(first, TrainerOptionsResolver.Resolve(options, seed: 1).Fingerprint(), "Another learning rate is another run.");
    }

    [TestMethod]
    public void Resolve_StageDepths_CarriedIntoSettingsAndFingerprint()
    {
        var options = new ResNetTrainerOptions { Architecture = ResNetArchitecture.ResNet18, StageDepths = [2, 2, 2, 3] };
        var settings = TrainerOptionsResolver.Resolve(options, seed: 1);
        options.StageDepths[3] = 9;

        CollectionAssert.AreEqual(new[] { 2, 2, 2, 3 }, settings.StageDepths, "the settings keep their own copy");
        Assert.AreNotEqual(
            TrainerOptionsResolver.Resolve(new ResNetTrainerOptions { Architecture = ResNetArchitecture.ResNet18 }, seed: 1).Fingerprint(),
            settings.Fingerprint());
        StringAssert.Contains(settings.Fingerprint(), "2/2/2/3");
    }

    [TestMethod]
    [DataRow(new[] { 2, 2, 2 })]
    [DataRow(new[] { 0, 2, 2, 2 })]
    public void Validate_BadStageDepths_ThrowsNamingTheOption(int[] depths)
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => TrainerOptionsResolver.Validate(new ResNetTrainerOptions { StageDepths = depths }));

        Assert.AreEqual(nameof(ResNetTrainerOptions.StageDepths), error.ParamName);
        StringAssert.Contains(error.Message, $"[{string.Join(", ", depths)}]");
    }

    [TestMethod]
    public void Resolve_PretrainedStart_FitsTheHeadFirstAndSlowsTheBackbone()
    {
        var scratch = TrainerOptionsResolver.Resolve(new ResNetTrainerOptions { Epochs = 4 }, seed: 1);
        var imageNet = TrainerOptionsResolver.Resolve(new ResNetTrainerOptions { Epochs = 4, StartingWeights = ResNetStartingWeights.ImageNet }, seed: 1);
        var warmup = TrainerOptionsResolver.Resolve(new ResNetTrainerOptions { Epochs = 4, StartingWeights = ResNetStartingWeights.ImageNet, FitHeadFirst = false }, seed: 1);
        var oneEpoch = TrainerOptionsResolver.Resolve(new ResNetTrainerOptions { Epochs = 1, StartingWeights = ResNetStartingWeights.ImageNet, FitHeadFirst = false }, seed: 1);
        var frozen = TrainerOptionsResolver.Resolve(new ResNetTrainerOptions { Epochs = 4, StartingWeights = ResNetStartingWeights.ImageNet, FreezeBackbone = true, FitHeadFirst = false }, seed: 1);

        Assert.AreEqual((false, 0, 1.0, 0), (scratch.FitHeadFirst, scratch.HeadWarmupEpochs, scratch.BackboneLearningRateFactor, scratch.FrozenStages));
        Assert.AreEqual((true, 0, 0.1), (imageNet.FitHeadFirst, imageNet.HeadWarmupEpochs, imageNet.BackboneLearningRateFactor), "The fitted head replaces the warm-up epoch.");
        Assert.AreEqual((false, true), (scratch.FreezeBatchNormStatistics, imageNet.FreezeBatchNormStatistics), "Only pretrained statistics are worth keeping.");
        Assert.AreEqual(1, warmup.HeadWarmupEpochs, "Without the head fit, one head-only epoch warms it up.");
        Assert.AreEqual((ResNetOptimizer.Sgd, ResNetOptimizer.AdamW), (scratch.Optimizer, imageNet.Optimizer), "Pretrained starts fine-tune with AdamW.");
        Assert.AreEqual(1e-3, imageNet.LearningRate);
        Assert.AreEqual(0, oneEpoch.HeadWarmupEpochs, "A single epoch must fine-tune the whole network.");
        Assert.AreEqual(0, frozen.HeadWarmupEpochs, "A frozen backbone trains only the head anyway.");
        Assert.AreNotEqual(scratch.Fingerprint(), TrainerOptionsResolver.Resolve(new ResNetTrainerOptions { Epochs = 4, BackboneLearningRateFactor = 0.5 }, seed: 1).Fingerprint());
        Assert.AreNotEqual(imageNet.Fingerprint(), warmup.Fingerprint(), "A checkpoint records whether the head was fitted first.");
    }

    [TestMethod]
    [DataRow(112, 3, 3)]
    [DataRow(128, 2, 3)]
    [DataRow(224, 1, 4)]
    public void Resolve_ImageNetStartWithNeitherSet_TakesTheSizeRule(int size, int epochs, int frozenStages)
    {
        var options = new ResNetTrainerOptions { StartingWeights = ResNetStartingWeights.ImageNet, ImageHeight = size, ImageWidth = size };

        var settings = TrainerOptionsResolver.Resolve(options, seed: 1);

        Assert.AreEqual((epochs, frozenStages), (settings.Epochs, settings.FrozenStages));
        Assert.AreEqual((epochs, frozenStages), (options.ResolvedEpochs, options.ResolvedFrozenStages), "The public view says what Fit runs.");
        Assert.AreEqual((null, null), (options.Epochs, options.FrozenStages), "Resolving leaves the user's options as they were.");
    }

    [TestMethod]
    [DataRow(224, 2, null, 2, 3)]
    [DataRow(112, 5, null, 5, 3)]
    [DataRow(224, null, 2, 1, 2)]
    [DataRow(224, null, 0, 1, 0)]
    [DataRow(112, null, 4, 3, 4)]
    [DataRow(224, 4, 1, 4, 1)]
    public void Resolve_ImageNetStartWithOneOrBothSet_KeepsThemAndTheRuleFillsTheOther(int size, int? epochs, int? frozenStages, int expectedEpochs, int expectedFrozenStages)
    {
        var options = new ResNetTrainerOptions { StartingWeights = ResNetStartingWeights.ImageNet, ImageHeight = size, ImageWidth = size, Epochs = epochs, FrozenStages = frozenStages };

        var settings = TrainerOptionsResolver.Resolve(options, seed: 1);

        Assert.AreEqual((expectedEpochs, expectedFrozenStages), (settings.Epochs, settings.FrozenStages));
    }

    [TestMethod]
    public void Resolve_NotFineTuningImageNetWeights_KeepsTheFromScratchDefaults()
    {
        const int size = 112;
        var scratch = new ResNetTrainerOptions { ImageHeight = size, ImageWidth = size };
        var weightsFile = new ResNetTrainerOptions { ImageHeight = size, ImageWidth = size, PretrainedWeightsPath = "earlier-run.safetensors" };
        var frozenBackbone = new ResNetTrainerOptions { ImageHeight = size, ImageWidth = size, StartingWeights = ResNetStartingWeights.ImageNet, FreezeBackbone = true };
        var imageNetFile = new ResNetTrainerOptions { ImageHeight = size, ImageWidth = size, PretrainedWeightsPath = "resnet34-imagenet.pth", StartingWeights = ResNetStartingWeights.ImageNet };

        foreach (var options in new[] { scratch, weightsFile, frozenBackbone })
        {
            var settings = TrainerOptionsResolver.Resolve(options, seed: 1);
            Assert.AreEqual((Defaults.Trainer.Epochs, 0), (settings.Epochs, settings.FrozenStages));
        }

        var declared = TrainerOptionsResolver.Resolve(imageNetFile, seed: 1);
        Assert.AreEqual((3, 3), (declared.Epochs, declared.FrozenStages), "A file declared ImageNet's fine-tunes like the package's network.");
    }

    [TestMethod]
    public void Resolve_SizeRule_FingerprintHoldsTheResolvedStages()
    {
        var byRule = new ResNetTrainerOptions { StartingWeights = ResNetStartingWeights.ImageNet, ImageHeight = 112, ImageWidth = 112 };
        var spelledOut = new ResNetTrainerOptions { StartingWeights = ResNetStartingWeights.ImageNet, ImageHeight = 112, ImageWidth = 112, Epochs = 3, FrozenStages = 3 };
        var nothingFrozen = new ResNetTrainerOptions { StartingWeights = ResNetStartingWeights.ImageNet, ImageHeight = 112, ImageWidth = 112, FrozenStages = 0 };

        var fingerprint = TrainerOptionsResolver.Resolve(byRule, seed: 1).Fingerprint();

        Assert.AreEqual(TrainerOptionsResolver.Resolve(spelledOut, seed: 1).Fingerprint(), fingerprint, "A checkpoint of the rule's run resumes with its values spelled out.");
        Assert.AreNotEqual(TrainerOptionsResolver.Resolve(nothingFrozen, seed: 1).Fingerprint(), fingerprint);
    }

    [TestMethod]
    public void Validate_HeadWarmupAsLongAsTheRulesEpochs_ThrowsSayingTheEpochsAreTheDefault()
    {
        var options = new ResNetTrainerOptions { StartingWeights = ResNetStartingWeights.ImageNet, FitHeadFirst = false, HeadWarmupEpochs = 1 };

        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => TrainerOptionsResolver.Validate(options));

        Assert.AreEqual(nameof(ResNetTrainerOptions.HeadWarmupEpochs), error.ParamName);
        StringAssert.Contains(error.Message, "0 to 0");
        StringAssert.Contains(error.Message, "default for this start and input size");
    }

    [TestMethod]
    [DataRow(-1)]
    [DataRow(5)]
    public void Validate_FrozenStagesOutOfRange_ThrowsNamingTheOption(int stages)
    {
        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => TrainerOptionsResolver.Validate(new ResNetTrainerOptions { StartingWeights = ResNetStartingWeights.ImageNet, FrozenStages = stages }));

        Assert.AreEqual(nameof(ResNetTrainerOptions.FrozenStages), error.ParamName);
        StringAssert.Contains(error.Message, "0 to 4");
        StringAssert.Contains(error.Message, "FreezeBackbone");
    }

    [TestMethod]
    public void Validate_FrozenStagesFromRandomWeights_ThrowsNamingBothWaysToPretrainedWeights()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => TrainerOptionsResolver.Validate(new ResNetTrainerOptions { FrozenStages = 2 }));

        Assert.AreEqual(nameof(ResNetTrainerOptions.FrozenStages), error.ParamName);
        StringAssert.Contains(error.Message, "PretrainedWeightsPath");
        StringAssert.Contains(error.Message, "StartingWeights = ImageNet");
    }

    [TestMethod]
    public void Validate_HeadWarmupAndBackboneFactorOutOfRange_ThrowNamingTheOption()
    {
        var warmup = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => TrainerOptionsResolver.Validate(new ResNetTrainerOptions { Epochs = 3, HeadWarmupEpochs = 3 }));
        var factor = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => TrainerOptionsResolver.Validate(new ResNetTrainerOptions { BackboneLearningRateFactor = 0 }));
        var starting = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => TrainerOptionsResolver.Validate(new ResNetTrainerOptions { StartingWeights = (ResNetStartingWeights)7 }));

        Assert.AreEqual(nameof(ResNetTrainerOptions.HeadWarmupEpochs), warmup.ParamName);
        StringAssert.Contains(warmup.Message, "0 to 2");
        Assert.AreEqual(nameof(ResNetTrainerOptions.BackboneLearningRateFactor), factor.ParamName);
        Assert.AreEqual(nameof(ResNetTrainerOptions.StartingWeights), starting.ParamName);
    }

    [TestMethod]
    public void Validate_FreezeBackboneWithImageNetStart_IsAccepted()
    {
        TrainerOptionsResolver.Validate(new ResNetTrainerOptions { StartingWeights = ResNetStartingWeights.ImageNet, FreezeBackbone = true });
        var error = Assert.ThrowsExactly<ArgumentException>(() => TrainerOptionsResolver.Validate(new ResNetTrainerOptions { FreezeBackbone = true }));
        Assert.AreEqual(nameof(ResNetTrainerOptions.FreezeBackbone), error.ParamName);
    }
}
