namespace ImageClassification.Training;

/// <summary>What the progress display shows; filled from the trainer's progress callback.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Epochs">Total epochs planned.</param>
/// <param name="Step">1-based step within the epoch.</param>
/// <param name="StepsPerEpoch">Steps (batches) per epoch.</param>
/// <param name="Loss">Running training loss of the epoch.</param>
/// <param name="TrainAccuracy">Running training accuracy of the epoch, 0..1.</param>
/// <param name="ValidationAccuracy">Validation accuracy after the epoch, when the trainer reports it.</param>
/// <param name="LearningRate">Current learning rate.</param>
/// <param name="ImagesPerSecond">Training throughput.</param>
/// <param name="Remaining">Estimated time to the end of training.</param>
/// <param name="EndsEpoch">True for the report that closes an epoch.</param>
internal sealed record TrainingUpdate(
    int Epoch,
    int Epochs,
    int Step,
    int StepsPerEpoch,
    double Loss,
    double TrainAccuracy,
    double? ValidationAccuracy,
    double LearningRate,
    double ImagesPerSecond,
    TimeSpan? Remaining,
    bool EndsEpoch)
{
    /// <summary>Fraction of all training done, 0..1.</summary>
    public double Fraction => Epochs * StepsPerEpoch == 0
        ? 0
        : ((Epoch - 1) * (double)StepsPerEpoch + Step) / (Epochs * (double)StepsPerEpoch);
}
