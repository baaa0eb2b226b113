using System.Globalization;

namespace Microsoft.ML.ResNet;

/// <summary>
/// How <see cref="ResNetClassifierTransformer.SaveOnnx(string, IDataView, OnnxQuantizationOptions?)"/> writes an INT8
/// model: post-training static quantization, calibrated on the user's own images. Weights become symmetric INT8 per
/// output channel, activations UINT8 per tensor; the input normalization and the softmax stay FP32.
/// </summary>
/// <example>See samples/ImageClassification/Commands/ExportCommand.cs and the README's "INT8".</example>
public sealed record OnnxQuantizationOptions
{
    /// <summary>Rows of the calibration data read to measure activation ranges (the first ones; 200 by default, at least 20).
    /// When the data has fewer rows, all of them are used, down to 20.</summary>
    public int CalibrationRows { get; init; } = Defaults.Quantization.CalibrationRows;

    /// <summary>How activation ranges are chosen from what calibration saw; <see cref="CalibrationMethod.MinMax"/> by default
    /// (see <see cref="CalibrationMethod"/> for the measurement behind it).</summary>
    public CalibrationMethod Method { get; init; } = Defaults.Quantization.Method;

    /// <summary>For <see cref="CalibrationMethod.Percentile"/>: the share of each tensor's values (in percent, above 99 and
    /// below 100) kept inside the range at each end; 99.99 by default.</summary>
    public double Percentile { get; init; } = Defaults.Quantization.Percentile;

    /// <summary>Batch size of the calibration runs (memory grows with it: every calibrated activation is an output).</summary>
    internal int BatchSize { get; init; } = Defaults.Quantization.BatchSize;

    /// <summary>What the <c>resnet.quantization</c> metadata records, e.g. "int8-qdq;calibration=minmax;rows=200".</summary>
    internal string Describe(int rowsUsed) =>
        string.Create(CultureInfo.InvariantCulture, $"int8-qdq;calibration={(Method == CalibrationMethod.MinMax ? "minmax" : $"percentile-{Percentile}")};rows={rowsUsed}");

    /// <exception cref="ArgumentOutOfRangeException">A value outside the documented range.</exception>
    internal void Validate()
    {
        if (CalibrationRows < Defaults.Quantization.MinimumCalibrationRows)
        {
            throw new ArgumentOutOfRangeException(nameof(CalibrationRows), CalibrationRows, $"Calibration needs at least {Defaults.Quantization.MinimumCalibrationRows} rows.");
        }

        if (!Enum.IsDefined(Method))
        {
            throw new ArgumentOutOfRangeException(nameof(Method), Method, $"Expected one of {string.Join(", ", Enum.GetNames<CalibrationMethod>())}.");
        }

        if (!(Percentile > 99 && Percentile < 100))
        {
            throw new ArgumentOutOfRangeException(nameof(Percentile), Percentile, "The percentile must be above 99 and below 100 (e.g. 99.99).");
        }
    }
}
