using Google.Protobuf;
using Microsoft.ML.ResNet.Export.Quantization;
using Onnx;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>INT8 post-training quantization of a classifier graph: checks, calibration (Scoring), then the QDQ rewrite (Export).</summary>
internal static class OnnxQuantizer
{
    /// <summary>The INT8 model of <paramref name="fp32"/>, calibrated on the first rows of <paramref name="data"/>'s pixel column.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Bad options; the pixel column is missing or of the wrong shape.</exception>
    /// <exception cref="ArgumentException">Too few rows, or a row with NaN or infinite pixels.</exception>
    /// <exception cref="InvalidOperationException">The model is already quantized; an activation is constant or not finite.</exception>
    public static byte[] Quantize(byte[] fp32, IDataView data, string pixelColumn, int height, int width, OnnxQuantizationOptions options, string parameterName)
    {
        options.Validate();
        var model = ModelProto.Parser.ParseFrom(fp32);

        // Before any image is read: an INT8 model must not be quantized twice.
        var tensors = QdqGraphRewriter.TensorsToCalibrate(model);
        var pixels = CalibrationPixels.Read(
            data, pixelColumn, height, width, options.CalibrationRows, Defaults.Quantization.MinimumCalibrationRows, parameterName);
        var ranges = ActivationCalibrator.Calibrate(model, tensors, pixels, options);
        return QdqGraphRewriter.Rewrite(model, ranges, options.Describe(pixels.Rows)).ToByteArray();
    }
}
