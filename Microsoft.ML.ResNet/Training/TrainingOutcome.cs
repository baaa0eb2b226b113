namespace Microsoft.ML.ResNet.Training;

/// <summary>How a run ended. The model passed to the loop holds the final (or, with early stopping, the best) weights.</summary>
/// <param name="CompletedEpochs">Epochs trained in total, resumed ones included.</param>
/// <param name="BestEpoch">The 1-based epoch whose weights were restored by early stopping, or 0.</param>
/// <param name="BestMetric">That epoch's validation metric, or null.</param>
/// <param name="StoppedEarly">Patience ran out before the last epoch.</param>
/// <param name="History">The epochs trained by this call (not the resumed ones).</param>
internal sealed record TrainingOutcome(
    int CompletedEpochs,
    int BestEpoch,
    double? BestMetric,
    bool StoppedEarly,
    IReadOnlyList<EpochSummary> History);
