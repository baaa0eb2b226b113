namespace Microsoft.ML.ResNet.Training;

/// <summary>What a checkpoint folder records besides the tensors: how far the run got and what it is.</summary>
/// <param name="Fingerprint">The run's <see cref="TrainingSettings.Fingerprint"/>; a mismatch refuses to resume.</param>
/// <param name="CompletedEpochs">Epochs fully trained (and validated) when the checkpoint was written.</param>
/// <param name="ModelFile">File (in the folder) with the weights after <paramref name="CompletedEpochs"/>.</param>
/// <param name="OptimizerFile">File with the optimizer state (momentum buffers, Adam moments).</param>
/// <param name="BestFile">File with the best weights so far (early stopping), or null.</param>
/// <param name="BestMetric">The best validation metric so far, or null.</param>
/// <param name="BestEpoch">The 1-based epoch of <paramref name="BestMetric"/>, or 0.</param>
/// <param name="EpochsWithoutImprovement">Patience used up so far.</param>
/// <param name="StoppedEarly">The run ended by early stopping: resuming has nothing left to train.</param>
/// <param name="Seed">The run's seed; a resumed run without an explicit seed takes it from here.</param>
/// <param name="ScheduleStartEpoch">First epoch of the learning-rate schedule's span the run is in.</param>
/// <param name="ScheduleEndEpoch">Epoch the span ends at (the run's Epochs when the span began).</param>
internal sealed record CheckpointState(
    string Fingerprint,
    int CompletedEpochs,
    string ModelFile,
    string OptimizerFile,
    string? BestFile,
    double? BestMetric,
    int BestEpoch,
    int EpochsWithoutImprovement,
    bool StoppedEarly,
    int Seed,
    int ScheduleStartEpoch,
    int ScheduleEndEpoch);
