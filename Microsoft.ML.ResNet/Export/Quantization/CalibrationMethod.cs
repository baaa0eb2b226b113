namespace Microsoft.ML.ResNet;

/// <summary>How <see cref="OnnxQuantizationOptions"/> turns the activations seen during calibration into the range
/// each INT8 activation tensor can represent.</summary>
public enum CalibrationMethod
{
    /// <summary>Cut the rarest values off both ends of each tensor's distribution
    /// (<see cref="OnnxQuantizationOptions.Percentile"/>), so one outlier does not widen the step for all other values.</summary>
    Percentile,

    /// <summary>The smallest and largest value seen, so nothing calibration saw is ever clipped.</summary>
    MinMax,
}
