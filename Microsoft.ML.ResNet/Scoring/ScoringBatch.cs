using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.ResNet.Export;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>
/// One consumer's input and output buffers for up to <see cref="Capacity"/> rows, allocated once and
/// reused for every run, with the ONNX Runtime tensors that wrap them. Holds a reference on the session from
/// construction to <see cref="Dispose"/>, so the session outlives a disposed transformer while this batch
/// lives. Each cursor or prediction row owns one; a <see cref="Dispose"/> on another thread waits for a
/// running <see cref="Run"/> instead of freeing its tensors under it. Dispose it.
/// </summary>
internal sealed class ScoringBatch : IDisposable
{
    private readonly OnnxScoringSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly OrtValue[] _fullInputs;
    private readonly OrtValue[] _fullOutputs;
    private readonly Lock _gate = new();
    private bool _disposed;

    /// <exception cref="ObjectDisposedException">The session's last reference is gone (the classifier was disposed).</exception>
    public ScoringBatch(OnnxScoringSession session, int capacity, bool withFeatures)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        session.AddReference();
        _session = session;
        Capacity = capacity;
        var info = session.Info;
        Pixels = new float[capacity * info.PixelCount];
        Probabilities = new float[capacity * info.NumClasses];
        Features = withFeatures ? new float[capacity * info.FeatureSize] : [];
        _inputNames = [info.InputName];
        _outputNames = withFeatures
            ? [OnnxContract.ProbabilitiesOutput, OnnxContract.FeaturesOutput]
            : [OnnxContract.ProbabilitiesOutput];
        try
        {
            _fullInputs = Inputs(capacity);
            _fullOutputs = Outputs(capacity);
        }
        catch
        {
            session.Release();
            throw;
        }
    }

    public int Capacity { get; }

    /// <summary>Row-major [Capacity, 3, H, W]; the caller fills the first rows before <see cref="Run"/>.</summary>
    public float[] Pixels { get; }

    /// <summary>[Capacity, K] after <see cref="Run"/>.</summary>
    public float[] Probabilities { get; }

    /// <summary>[Capacity, F] after <see cref="Run"/>, or empty when features were not asked for.</summary>
    public float[] Features { get; }

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
            DisposeAll(_fullInputs);
            DisposeAll(_fullOutputs);
            _runOptions.Dispose();
            _session.Release();
        }
    }

    private void RunUnderLock(int count)
    {
        if (count == Capacity)
        {
            _session.Run(_runOptions, _inputNames, _fullInputs, _outputNames, _fullOutputs);
            return;
        }

        // A short last batch: new tensor headers over the same buffers, no new data arrays.
        var inputs = Inputs(count);
        var outputs = Outputs(count);
        try
        {
            _session.Run(_runOptions, _inputNames, inputs, _outputNames, outputs);
        }
        finally
        {
            DisposeAll(inputs);
            DisposeAll(outputs);
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
        var probabilities = Wrap(Probabilities, [rows, info.NumClasses]);
        return Features.Length == 0
            ? [probabilities]
            : [probabilities, Wrap(Features, [rows, info.FeatureSize])];
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
