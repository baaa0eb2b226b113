namespace Microsoft.ML.ResNet.Export.Quantization;

/// <summary>
/// Counts one activation tensor's values in fixed bins over the range a first calibration pass found, so that a
/// percentile of the values can be read off without keeping them.
/// </summary>
/// <remarks>For <see cref="CalibrationMethod.Percentile"/>; the measurement that made min-max the default is on
/// <see cref="CalibrationMethod"/>.</remarks>
internal sealed class ActivationHistogram
{
    private const int Bins = 2048;
    private readonly long[] _counts = new long[Bins];
    private readonly float _min;
    private readonly float _width;

    /// <param name="min">The smallest value the tensor will hold.</param>
    /// <param name="max">The largest; above <paramref name="min"/>.</param>
    public ActivationHistogram(float min, float max)
    {
        _min = min;
        _width = (max - min) / Bins;
    }

    public long Count { get; private set; }

    public void Add(ReadOnlySpan<float> values)
    {
        var inverse = 1f / _width;
        foreach (var value in values)
        {
            var bin = (int)((value - _min) * inverse);
            _counts[Math.Clamp(bin, 0, Bins - 1)]++;
        }

        Count += values.Length;
    }

    /// <summary>The range that leaves out (100 - <paramref name="percentile"/>)% of the values at each end.</summary>
    public ActivationRange Range(double percentile)
    {
        var tail = (long)(Count * (100 - percentile) / 100);
        var low = 0;
        for (long seen = 0; low < Bins - 1 && seen + _counts[low] <= tail; low++)
        {
            seen += _counts[low];
        }

        var high = Bins - 1;
        for (long seen = 0; high > low && seen + _counts[high] <= tail; high--)
        {
            seen += _counts[high];
        }

        return new ActivationRange(_min + (low * _width), _min + ((high + 1) * _width));
    }
}
