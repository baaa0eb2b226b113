namespace Microsoft.ML.ResNet;

/// <summary>
/// A <see cref="ResNetBatchPredictor"/> refused a request because <see cref="ResNetPredictorOptions.QueueCapacity"/>
/// requests already wait: the caller should retry later or shed load (a server answers 503).
/// </summary>
public sealed class ResNetPredictorQueueFullException : InvalidOperationException
{
    /// <summary>Creates the exception for a queue of <paramref name="capacity"/> requests.</summary>
    /// <param name="capacity">The queue's capacity.</param>
    public ResNetPredictorQueueFullException(int capacity)
        : base($"The prediction queue is full ({capacity} requests waiting, QueueCapacity = {capacity}); retry later or raise QueueCapacity.")
    {
        Capacity = capacity;
    }

    /// <summary>The queue's capacity when the request was refused.</summary>
    public int Capacity { get; }
}
