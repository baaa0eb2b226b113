using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.ResNet.Export;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>
/// One consumer's input and output buffers for up to <see cref="Capacity"/> rows, allocated once and
/// reused for every run. Holds a reference on the session from construction to <see cref="Dispose"/>, so the
/// session outlives a disposed transformer while this batch lives. Each cursor or prediction row owns one; a
/// <see cref="Dispose"/> on another thread waits for a running <see cref="Run"/> instead of freeing its tensors
/// under it. Dispose it.
/// </summary>
/// <remarks>
/// ML.NET's PredictionEngine never disposes the row its mapper made (it disposes only its input row), so a
/// prediction row's batch is built with <c>cacheTensors: false</c>: it keeps no native object between runs, and
/// its session reference is given back by the finalizer when the engine is collected. A cursor's batch caches
/// the ONNX Runtime tensors over its buffers (cursors are disposed), and the finalizer is only a safety net.
/// </remarks>
internal sealed class ScoringBatch : IDisposable
{
    private readonly OnnxScoringSession _session;
    private readonly RunOptions? _runOptions;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly OrtValue[]? _fullInputs;
    private readonly OrtValue[]? _fullOutputs;
    private readonly Lock _gate = new();
    private bool _disposed;

    // 1 until the reference is taken: a constructor that throws leaves nothing for the finalizer to give back.
    private int _released = 1;

    /// <param name="session">The session; a reference is taken on it.</param>
    /// <param name="capacity">Rows per run at most.</param>
    /// <param name="withFeatures">Also read the embedding output.</param>
    /// <param name="withHeatMaps">Also read the class activation maps (the session's graph must have them).</param>
    /// <param name="cacheTensors">Keep ONNX Runtime tensors over the buffers between runs (for consumers that are disposed).</param>
    /// <exception cref="ObjectDisposedException">The session's last reference is gone (the classifier was disposed).</exception>
    public ScoringBatch(OnnxScoringSession session, int capacity, bool withFeatures, bool withHeatMaps = false, bool cacheTensors = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        session.AddReference();
        _session = session;
        _released = 0;
        Capacity = capacity;
        var info = session.Info;
        Pixels = new float[capacity * info.PixelCount];
        Probabilities = new float[capacity * info.NumClasses];
        Features = withFeatures ? new float[capacity * info.FeatureSize] : [];
        HeatMaps = withHeatMaps ? new float[capacity * info.NumClasses * info.HeatMapSize] : [];
        _inputNames = [info.InputName];
        _outputNames = [OnnxContract.ProbabilitiesOutput, .. withFeatures ? [OnnxContract.FeaturesOutput] : Array.Empty<string>(), .. withHeatMaps ? [OnnxContract.HeatMapsOutput] : Array.Empty<string>()];
        if (cacheTensors)
        {
            try
            {
                _runOptions = new RunOptions();
                _fullInputs = Inputs(capacity);
                _fullOutputs = Outputs(capacity);
            }
            catch
            {
                _runOptions?.Dispose();
                ReleaseReference();
                GC.SuppressFinalize(this);
                throw;
            }
        }
    }

    ~ScoringBatch() => ReleaseReference();

    public int Capacity { get; }

    /// <summary>Row-major [Capacity, 3, H, W]; the caller fills the first rows before <see cref="Run"/>.</summary>
    public float[] Pixels { get; }

    /// <summary>[Capacity, K] after <see cref="Run"/>.</summary>
    public float[] Probabilities { get; }

    /// <summary>[Capacity, F] after <see cref="Run"/>, or empty when features were not asked for.</summary>
    public float[] Features { get; }

    /// <summary>[Capacity, K, h, w] after <see cref="Run"/>, or empty when heat maps were not asked for.</summary>
    public float[] HeatMaps { get; }

    /// <summary>Scores the first <paramref name="count"/> rows of <see cref="Pixels"/> in one ONNX Runtime run.</summary>
    /// <exception cref="ObjectDisposedException">This batch was disposed.</exception>
    public void Run(int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Capacity);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            RunUnderLock(count);
        }

        // The finalizer gives the session reference back: it must not run before the run above has finished.
        GC.KeepAlive(this);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            if (_fullInputs is not null && _fullOutputs is not null)
            {
                DisposeAll(_fullInputs);
                DisposeAll(_fullOutputs);
            }

            _runOptions?.Dispose();
            ReleaseReference();
        }

        GC.SuppressFinalize(this);
    }

    private void ReleaseReference()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            _session.Release();
        }
    }

    private void RunUnderLock(int count)
    {
        if (count == Capacity && _runOptions is not null && _fullInputs is not null && _fullOutputs is not null)
        {
            _session.Run(_runOptions, _inputNames, _fullInputs, _outputNames, _fullOutputs);
            return;
        }

        // A short last batch, or a batch that keeps no tensors: new tensor headers over the same buffers, no new data arrays.
        var inputs = Inputs(count);
        var outputs = Outputs(count);
        var runOptions = _runOptions ?? new RunOptions();
        try
        {
            _session.Run(runOptions, _inputNames, inputs, _outputNames, outputs);
        }
        finally
        {
            DisposeAll(inputs);
            DisposeAll(outputs);
            if (!ReferenceEquals(runOptions, _runOptions))
            {
                runOptions.Dispose();
            }
        }
    }

    private OrtValue[] Inputs(int rows)
    {
        var info = _session.Info;
        return [Wrap(Pixels, [rows, 3, info.Height, info.Width])];
    }

    private OrtValue[] Outputs(int rows)
    {
        var info = _session.Info;
        var outputs = new List<OrtValue>(3) { Wrap(Probabilities, [rows, info.NumClasses]) };
        if (Features.Length > 0)
        {
            outputs.Add(Wrap(Features, [rows, info.FeatureSize]));
        }

        if (HeatMaps.Length > 0)
        {
            outputs.Add(Wrap(HeatMaps, [rows, info.NumClasses, info.HeatMapHeight, info.HeatMapWidth]));
        }

        return [.. outputs];
    }

    private static OrtValue Wrap(float[] buffer, long[] shape)
    {
        var length = (int)shape.Aggregate(1L, (a, b) => a * b);
        return OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, new Memory<float>(buffer, 0, length), shape);
    }

    private static void DisposeAll(OrtValue[] values)
    {
        foreach (var value in values)
        {
            value.Dispose();
        }
    }
}
