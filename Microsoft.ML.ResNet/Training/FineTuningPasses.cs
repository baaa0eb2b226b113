namespace Microsoft.ML.ResNet.Training;

/// <summary>
/// The size rule: how many epochs an ImageNet network fine-tunes for, and how many of its stages stay frozen, by default,
/// from the input size. The learning passes' cost is held near that of 3 epochs of layer3, layer4 and the head at
/// 112x112 (the stem, layer1 and layer2 frozen: their generic edge and texture filters gain little from a small data set,
/// and their output is computed once). An epoch's arithmetic grows with the input's area, so the epochs shrink by the same
/// factor, rounded down; where not even one epoch of layer3 and layer4 fits, one epoch trains only layer4 and the head
/// (every stage before it frozen: layer4 holds about 60% of layer3 and layer4's multiply-adds in the featurizer package's
/// network). The row count plays no part: an epoch costs in proportion to the rows, as ML.NET's DnnFeaturizeImage's one
/// pass does, so only the area changes the ratio of the two (the built-in always runs at 224x224).
/// </summary>
/// <remarks>
/// Measured in the transfer benchmark with the featurizer package's network (AMD EPYC, 2 cores; ratios to the built-in's
/// train time from the same run; README, transfer runs F to J): the 28x28 Fashion-MNIST split at 112x112 (3 epochs of
/// layer3 and layer4) 0.864 in 1.24-1.47x the built-in's time (quiet) and 0.87x (under load); the 96x96 Tux Paint photos at
/// 224x224, one epoch of layer4: 0.983 in 1.78x (quiet; 1.05-1.31x under load). Under load at 224x224, one epoch of layer3
/// and layer4 0.966 in 1.01x, three epochs of layer3 and layer4 0.983 in 4.06x, the fitted head alone 0.966 (the built-in:
/// 0.949). Sizes between 112 and 224 follow the rule unmeasured.
/// </remarks>
internal static class FineTuningPasses
{
    /// <summary>The epochs and frozen stages for a <paramref name="height"/> x <paramref name="width"/> input.</summary>
    public static (int Epochs, int FrozenStages) For(int height, int width)
    {
        var epochs = EpochsInBudget(height, width);
        return epochs >= 1
            ? (epochs, Defaults.Trainer.FineTuningFrozenStages)
            : (1, Defaults.Trainer.MaxFrozenStages);
    }

    /// <summary>The epochs for an input of that size when the frozen stages are the user's own: the rule's epochs, but at
    /// least one (the stages are not the rule's to change).</summary>
    public static int EpochsFor(int height, int width) => Math.Max(1, EpochsInBudget(height, width));

    // The reference epochs times the reference area over the input's, rounded down and never more than the reference
    // epochs (smaller inputs keep them: the rule only spares larger ones the cost of their area). Integer arithmetic, so
    // 112x112 is exactly 3, not 2.9999.
    private static int EpochsInBudget(int height, int width)
    {
        const long Side = Defaults.Trainer.FineTuningReferenceSide;

        // At least 1: options are readable (ResNetTrainerOptions.ResolvedEpochs) before validation refuses a zero side.
        var area = Math.Max(1L, (long)height * width);
        return (int)Math.Min(Defaults.Trainer.FineTuningEpochs, Defaults.Trainer.FineTuningEpochs * Side * Side / area);
    }
}
