using Microsoft.ML.ResNet.Catalog;

namespace Microsoft.ML.ResNet;

/// <summary>Settings of a <see cref="ResNetBatchPredictor"/>: batching, queueing, output and device.</summary>
public sealed class ResNetPredictorOptions
{
    /// <summary>Most images per ONNX Runtime run (Triton's <c>max_batch_size</c>); 1 to 1024. Default 32.</summary>
    public int MaxBatchSize { get; set; } = Defaults.Predictor.MaxBatchSize;

    /// <summary>
    /// How long the first request of a batch waits for others to join it (Triton's <c>max_queue_delay</c>); zero runs
    /// whatever is queued at once. Default 2 ms: small against a batch's run time, long enough to collect concurrent calls.
    /// </summary>
    public TimeSpan MaxWait { get; set; } = Defaults.Predictor.MaxWait;

    /// <summary>
    /// Requests that may wait for a run; one more is refused with <see cref="ResNetPredictorQueueFullException"/>
    /// (back-pressure instead of unbounded memory). Default 256.
    /// </summary>
    public int QueueCapacity { get; set; } = Defaults.Predictor.QueueCapacity;

    /// <summary>Labels returned per image, best first; more than the model's classes returns them all. Default 5.</summary>
    public int TopK { get; set; } = Defaults.Predictor.TopK;

    /// <summary>
    /// Adds the predicted class's activation map, drawn over the image as a PNG (<see cref="HeatMapImage.RenderPng(byte[], ReadOnlySpan{float}, int, int, float)"/>),
    /// to each prediction. The map comes from the same run as the scores (the graph with the <c>heatmaps</c> output added);
    /// the PNG is drawn on the caller's side of the queue, not in the batch loop. Default false.
    /// </summary>
    public bool IncludeHeatMap { get; set; }

    /// <summary>CUDA device to run on; null uses the MLContext's <c>GpuDeviceId</c> (and its <c>FallbackToCpu</c>), as the classifier does.</summary>
    public int? GpuDeviceId { get; set; }

    /// <summary>With <see cref="GpuDeviceId"/>: run on the CPU (one warning) when the GPU cannot be used, instead of throwing;
    /// null uses the MLContext's <c>FallbackToCpu</c>.</summary>
    public bool? FallbackToCpu { get; set; }

    /// <summary>Checks every setting; the exception's parameter name is the property.</summary>
    internal void Validate()
    {
        if (MaxBatchSize is < 1 or > Defaults.MaxBatchSize)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxBatchSize), MaxBatchSize, $"MaxBatchSize must be 1 to {Defaults.MaxBatchSize}.");
        }

        if (MaxWait < TimeSpan.Zero || MaxWait > Defaults.Predictor.LongestWait)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxWait), MaxWait, $"MaxWait must be 0 to {Defaults.Predictor.LongestWait.TotalSeconds} s.");
        }

        if (QueueCapacity < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(QueueCapacity), QueueCapacity, "QueueCapacity must be at least 1.");
        }

        if (TopK < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "TopK must be at least 1.");
        }

        if (GpuDeviceId is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(GpuDeviceId), GpuDeviceId, "GpuDeviceId must be 0 or more, or null.");
        }
    }

    internal ResNetPredictorOptions Clone() => (ResNetPredictorOptions)MemberwiseClone();
}
