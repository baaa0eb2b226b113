namespace Microsoft.ML.ResNet;

internal static partial class Defaults
{
    /// <summary>Every default of <see cref="OnnxQuantizationOptions"/>.</summary>
    internal static class Quantization
    {
        public const int CalibrationRows = 200;

        /// <summary>Fewer rows than this describe the activations of too few images to set their ranges.</summary>
        public const int MinimumCalibrationRows = 20;

        /// <summary>Chosen by measured accuracy: see <see cref="CalibrationMethod"/>.</summary>
        public const CalibrationMethod Method = CalibrationMethod.MinMax;

        /// <summary>Share of values kept at each end, in percent.</summary>
        public const double Percentile = 99.99;

        internal const int BatchSize = 8;
    }
}
