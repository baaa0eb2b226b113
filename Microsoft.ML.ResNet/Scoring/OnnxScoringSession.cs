using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>
/// Owns the ONNX Runtime session of one classifier: the one place that picks the GPU or the CPU.
/// <see cref="InferenceSession.Run(RunOptions, IReadOnlyCollection{string}, IReadOnlyCollection{OrtValue}, IReadOnlyCollection{string}, IReadOnlyCollection{OrtValue})"/>
/// is thread-safe, so one session serves every cursor and prediction engine; each of those brings its
/// own buffers (<see cref="ScoringBatch"/>).
/// </summary>
/// <remarks>
/// Reference counted, because ML.NET disposes transformers while their cursors and rows live on (a
/// PredictionEngine with the default <c>OwnsTransformer = true</c> disposes the transformer that other
/// engines share): running a freed native session kills the process. The creator holds the first
/// reference and gives it up with <see cref="Dispose"/>; every <see cref="ScoringBatch"/> holds one
/// (<see cref="AddReference"/>/<see cref="Release"/>), so every run happens under a reference and the
/// native session is freed when the last one goes (a batch nobody disposes gives its reference back from
/// its finalizer). Taking a reference after that throws
/// <see cref="ObjectDisposedException"/>.
/// </remarks>
internal sealed class OnnxScoringSession : IDisposable
{
    private readonly SessionOptions _sessionOptions;
    private readonly InferenceSession _session;

    // The cached graph ONNX Runtime reads the weights from (OptimizedModelCache): given back after the session is freed.
    private readonly OptimizedModelCache.SharedGraph? _cachedGraph;
    private int _references = 1;
    private int _ownerReleased;

    /// <summary>Creates the session on the requested device.</summary>
    /// <param name="model">The ONNX model bytes.</param>
    /// <param name="options">Device and threads.</param>
    /// <param name="warn">Receives the one warning written when the GPU is unusable and the CPU takes over.</param>
    /// <exception cref="InvalidOperationException">The GPU is unusable and <see cref="ScoringSessionOptions.FallbackToCpu"/> is false, or the graph breaks the contract.</exception>
    public OnnxScoringSession(byte[] model, ScoringSessionOptions options, Action<string> warn)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(warn);
        (_session, _sessionOptions, _cachedGraph, Device) = Create(model, options, warn);
        try
        {
            Info = ScoringModelInfo.Read(_session);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>
    /// Creates ONNX Runtime's process-wide environment now, unless something already has, the way ML.NET's OnnxTransformer
    /// would for the same MLContext: with global thread pools when it asked for them
    /// (<see cref="ScoringSessionOptions.GlobalThreadPools"/>; ML.NET's sessions then need those pools, and ONNX Runtime
    /// refuses them in an environment made without). Each scoring session calls it first, and so does the throwaway session
    /// that reads a model's contract (<see cref="ScoringModelInfo.Read(byte[], string, ScoringSessionOptions)"/>); our loader
    /// also calls it before it makes sessions beside ML.NET's loading, so no thread races another to make the environment.
    /// (INT8 calibration knows no MLContext; see <see cref="ActivationCalibrator"/>.)
    /// </summary>
    public static void EnsureEnvironment(ScoringSessionOptions options)
    {
        if (OrtEnv.IsCreated)
        {
            return;
        }

        if (options.GlobalThreadPools is var (interOp, intraOp))
        {
            var global = new EnvironmentCreationOptions
            {
                threadOptions = new OrtThreadingOptions { GlobalInterOpNumThreads = interOp, GlobalIntraOpNumThreads = intraOp },
            };
            OrtEnv.CreateInstanceWithOptions(ref global);
            return;
        }

        OrtEnv.Instance();
    }

    /// <summary>"CPU" or "CUDA:n": where the session actually runs.</summary>
    public string Device { get; }

    /// <summary>Whether the session was made from ONNX Runtime's optimized graph kept by an earlier session (<see cref="OptimizedModelCache"/>).</summary>
    public bool FromCachedGraph => _cachedGraph is not null;

    public ScoringModelInfo Info { get; }

    /// <summary>False once the last reference is gone and the native session is freed.</summary>
    public bool IsAlive => Volatile.Read(ref _references) > 0;

    /// <summary>Runs the model; the caller must hold a reference (<see cref="AddReference"/>).</summary>
    /// <exception cref="ObjectDisposedException">The native session is already freed (a caller without a reference).</exception>
    public void Run(RunOptions runOptions, IReadOnlyCollection<string> inputNames, IReadOnlyCollection<OrtValue> inputs, IReadOnlyCollection<string> outputNames, IReadOnlyCollection<OrtValue> outputs)
    {
        ObjectDisposedException.ThrowIf(!IsAlive, this);
        _session.Run(runOptions, inputNames, inputs, outputNames, outputs);
    }

    /// <summary>Keeps the native session alive until a matching <see cref="Release"/>.</summary>
    /// <exception cref="ObjectDisposedException">The last reference is already gone: the classifier was disposed.</exception>
    public void AddReference()
    {
        while (true)
        {
            var current = Volatile.Read(ref _references);
            if (current <= 0)
            {
                throw new ObjectDisposedException(
                    "ResNetClassifierTransformer",
                    "The ResNet classifier was disposed (a PredictionEngine created with the default OwnsTransformer = true disposes it with itself); "
                    + "create engines with new PredictionEngineOptions { OwnsTransformer = false } to share one transformer, or load the model again.");
            }

            if (Interlocked.CompareExchange(ref _references, current + 1, current) == current)
            {
                return;
            }
        }
    }

    /// <summary>Gives up one reference; the last one frees the native session.</summary>
    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            _session?.Dispose();
            _sessionOptions?.Dispose();
            _cachedGraph?.Release();
        }
    }

    /// <summary>Gives up the creator's reference (once, however often it is called).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _ownerReleased, 1) == 0)
        {
            Release();
        }
    }

    private static (InferenceSession, SessionOptions, OptimizedModelCache.SharedGraph?, string) Create(byte[] model, ScoringSessionOptions options, Action<string> warn)
    {
        EnsureEnvironment(options);
        if (options.GpuDeviceId is int deviceId)
        {
            SessionOptions? gpu = null;
            try
            {
                gpu = NewOptions(options);
                gpu.AppendExecutionProvider_CUDA(deviceId);
                return (new InferenceSession(model, gpu), gpu, null, $"CUDA:{deviceId}");
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                gpu?.Dispose();

                // ORT's message for a missing CUDA/cuDNN is long and multi-line; the first line names the library.
                var cause = ex.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? ex.GetType().Name;
                var problem = $"GPU device {deviceId} cannot be used: ONNX Runtime's CUDA execution provider failed to start ({cause})";
                if (!options.FallbackToCpu)
                {
                    throw new InvalidOperationException(
                        $"{problem}. Install CUDA 13 and cuDNN 9 and reference Microsoft.ML.OnnxRuntime.Gpu, choose another device, or pass fallbackToCpu: true to score on the CPU.",
                        ex);
                }

                warn($"{problem}; scoring on the CPU instead.");
            }
        }

        if (options.CacheOptimizedGraph)
        {
            var (session, sessionOptions, graph) = OptimizedModelCache.CreateSession(model, () => NewOptions(options));
            return (session, sessionOptions, graph, "CPU");
        }

        var cpu = NewOptions(options);
        try
        {
            return (new InferenceSession(model, cpu), cpu, null, "CPU");
        }
        catch
        {
            cpu.Dispose();
            throw;
        }
    }

    private static SessionOptions NewOptions(ScoringSessionOptions options)
    {
        var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,

            // ONNX Runtime's default counts physical cores; a VM that shows 2 logical CPUs as one core with
            // two threads then gets a single intra-op thread (measured here: 24.5 images/s for ResNet-34
            // at batch 1, 40.3 with one thread per logical CPU).
            IntraOpNumThreads = options.IntraOpNumThreads ?? Environment.ProcessorCount,
        };
        if (!options.SpinBetweenRuns)
        {
            sessionOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        }

        return sessionOptions;
    }
}
