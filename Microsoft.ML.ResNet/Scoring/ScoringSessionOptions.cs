namespace Microsoft.ML.ResNet.Scoring;

/// <summary>How to place an ONNX Runtime session: resolved values, no "use the context's" nulls left.</summary>
/// <param name="GpuDeviceId">CUDA device to run on, or null for the CPU.</param>
/// <param name="FallbackToCpu">When the GPU cannot be used: true scores on the CPU (one warning), false throws.</param>
/// <param name="IntraOpNumThreads">ONNX Runtime's intra-op thread count; null lets it choose (one per core).</param>
internal sealed record ScoringSessionOptions(int? GpuDeviceId, bool FallbackToCpu, int? IntraOpNumThreads)
{
    /// <summary>
    /// Whether ONNX Runtime's intra-op threads spin after a run waiting for the next (its default). A server turns it off:
    /// between runs its request threads need the cores to decode and resize images.
    /// </summary>
    public bool SpinBetweenRuns { get; init; } = true;
}
