namespace Microsoft.ML.ResNet.Training;

/// <summary>The figures of one finished epoch.</summary>
internal sealed record EpochSummary(
    int Epoch,
    double Loss,
    double TrainAccuracy,
    double? ValidationAccuracy,
    double? ValidationLoss,
    double ImagesPerSecond,
    double DataWaitFraction);
