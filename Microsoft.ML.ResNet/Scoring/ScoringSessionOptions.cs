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

    /// <summary>
    /// Whether a CPU session is made from ONNX Runtime's optimized graph an earlier process kept, and keeps it when there
    /// is none (<see cref="OptimizedModelCache"/>): for models loaded to serve, not for each network a training run
    /// scores once.
    /// </summary>
    public bool CacheOptimizedGraph { get; init; }

    /// <summary>
    /// The global ONNX Runtime thread pools the MLContext asked for (ML.NET's <c>OnnxSessionOptions.PerSessionThreads =
    /// false</c>): inter-op and intra-op threads, 0 letting ONNX Runtime choose; null when it did not ask. Our sessions
    /// keep their own threads either way; this only decides how ONNX Runtime's process-wide environment is made, should
    /// one of ours be first (see <see cref="OnnxScoringSession.EnsureEnvironment"/>).
    /// </summary>
    public (int InterOp, int IntraOp)? GlobalThreadPools { get; init; }
}
