using System.Runtime.InteropServices;
using Google.Protobuf;
using Microsoft.ML.ResNet.Export.Quantization;
using Microsoft.ML.ResNet.Scoring;
using Microsoft.ML.ResNet.Tests.Export.Quantization;
using Microsoft.ML.ResNet.Tests.Training;
using Onnx;

namespace Microsoft.ML.ResNet.Tests.Scoring;

/// <summary><see cref="ActivationCalibrator"/>: ranges measured with ONNX Runtime on real images, and a model whose
/// activations are not numbers refused with the tensor named.</summary>
[TestClass]
public sealed class ActivationCalibratorTests
{
    [TestMethod]
    public void Calibrate_TrainedClassifier_GivesReluRangesFromZero()
    {
        var fixture = Int8Fixtures.Get();
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(fixture.Fp32Path));
        var tensors = QdqGraphRewriter.TensorsToCalibrate(model);
        var pixels = CalibrationPixels.Read(fixture.Train, TrainingData.Features, Int8Fixtures.Size, Int8Fixtures.Size, 40, 20, "data");

        var minMax = ActivationCalibrator.Calibrate(model, tensors, pixels, new OnnxQuantizationOptions());
        var percentile = ActivationCalibrator.Calibrate(model, tensors, pixels, new OnnxQuantizationOptions { Method = CalibrationMethod.Percentile });

        var relu = model.Graph.Node.First(n => n.OpType == "Relu").Output[0];
        Assert.AreEqual(0f, minMax[relu].Min, "A ReLU output starts at 0.");
        Assert.IsTrue(minMax["normalize"].Min < 0 && minMax["normalize"].Max > 0, "The normalized pixels straddle 0.");
        foreach (var tensor in tensors)
        {
            Assert.IsTrue(percentile[tensor].Min >= minMax[tensor].Min && percentile[tensor].Max <= minMax[tensor].Max * 1.001f, $"{tensor}: the percentile range lies within min-max.");
        }
    }

    [TestMethod]
    public void Calibrate_NaNWeights_ThrowsNamingActivation()
    {
        var fixture = Int8Fixtures.Get();
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(fixture.Fp32Path));
        var weight = model.Graph.Initializer.First(t => t.Dims.Count == 4);
        var values = MemoryMarshal.Cast<byte, float>(weight.RawData.Span).ToArray();
        values[0] = float.NaN;
        weight.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        var pixels = CalibrationPixels.Read(fixture.Train, TrainingData.Features, Int8Fixtures.Size, Int8Fixtures.Size, 20, 20, "data");

        var error = Assert.ThrowsExactly<InvalidOperationException>(
            () => ActivationCalibrator.Calibrate(model, QdqGraphRewriter.TensorsToCalibrate(model), pixels, new OnnxQuantizationOptions()));
        StringAssert.Contains(error.Message, "is NaN on a calibration image");
        StringAssert.Contains(error.Message, "Activation '");
    }

    /// <summary>A layer that outputs one value for every image (here a zeroed convolution) has no range to quantize over.</summary>
    [TestMethod]
    public void Calibrate_ConstantActivation_ThrowsNamingActivation()
    {
        var fixture = Int8Fixtures.Get();
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(fixture.Fp32Path));
        var conv = model.Graph.Node.First(n => n.OpType == "Conv");
        foreach (var tensor in model.Graph.Initializer.Where(t => conv.Input.Skip(1).Contains(t.Name)))
        {
            tensor.RawData = ByteString.CopyFrom(new byte[tensor.RawData.Length]);
        }

        var pixels = CalibrationPixels.Read(fixture.Train, TrainingData.Features, Int8Fixtures.Size, Int8Fixtures.Size, 20, 20, "data");

        var error = Assert.ThrowsExactly<InvalidOperationException>(
            () => ActivationCalibrator.Calibrate(model, QdqGraphRewriter.TensorsToCalibrate(model), pixels, new OnnxQuantizationOptions()));
        StringAssert.Contains(error.Message, "is 0 on every one of the 20 calibration images");
    }
}
