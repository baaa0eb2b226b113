namespace Microsoft.ML.ResNet;

/// <summary>A snapshot of a training run, reported every few steps and at the end of every epoch.</summary>
/// <param name="Epoch">The current epoch, 1-based.</param>
/// <param name="Epochs">The number of epochs the run is set up for.</param>
/// <param name="Step">The step within the epoch, 1-based.</param>
/// <param name="StepsPerEpoch">The number of steps (batches) in an epoch.</param>
/// <param name="Loss">The mean training loss (with label smoothing) of the epoch so far.</param>
/// <param name="TrainAccuracy">Top-1 accuracy on the (augmented) training batches of the epoch so far.</param>
/// <param name="ValidationAccuracy">Top-1 accuracy on the validation data; only at the end of an epoch, and only with validation data.</param>
/// <param name="ValidationLoss">Mean cross-entropy on the validation data; only with <paramref name="ValidationAccuracy"/>.</param>
/// <param name="LearningRate">The learning rate of the last step.</param>
/// <param name="ImagesPerSecond">Training throughput of the epoch so far.</param>
/// <param name="EstimatedTimeRemaining">Time left for the whole run at the current throughput (excluding validation).</param>
/// <param name="DataWaitFraction">Share of the step time spent waiting for data (reading, decoding, augmenting, copying to a tensor) in the epoch so far, 0..1.</param>
/// <param name="IsEpochEnd">True for the report that closes an epoch (it carries the validation metrics).</param>
public sealed record ResNetTrainingProgress(
    int Epoch,
    int Epochs,
    int Step,
    int StepsPerEpoch,
    double Loss,
    double TrainAccuracy,
    double? ValidationAccuracy,
    double? ValidationLoss,
    double LearningRate,
    double ImagesPerSecond,
    TimeSpan EstimatedTimeRemaining,
    double DataWaitFraction,
    bool IsEpochEnd)
{
    /// <summary>One line for logs, e.g. "epoch 3/10 step 40/63 loss 0.8123 acc 0.712 lr 0.0812 212 img/s eta 00:01:10 data 3%".</summary>
    /// <returns>The formatted snapshot.</returns>
    public override string ToString()
    {
        var validation = ValidationAccuracy is { } accuracy
            ? FormattableString.Invariant($" val_acc {accuracy:0.000} val_loss {ValidationLoss:0.0000}")
            : string.Empty;
        return FormattableString.Invariant(
            $"epoch {Epoch}/{Epochs} step {Step}/{StepsPerEpoch} loss {Loss:0.0000} acc {TrainAccuracy:0.000}{validation} lr {LearningRate:0.######} {ImagesPerSecond:0.0} img/s eta {EstimatedTimeRemaining:hh\\:mm\\:ss} data {DataWaitFraction:P0}");
    }
}
