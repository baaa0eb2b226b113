using Microsoft.ML.Data;
using Microsoft.ML.ResNet.Tests.Export.Quantization;
using Microsoft.ML.ResNet.Tests.Training;

namespace Microsoft.ML.ResNet.Tests.Catalog;

/// <summary>
/// <see cref="ResNetClassifierTransformer.SaveOnnx(string, IDataView, OnnxQuantizationOptions?)"/> on a classifier trained
/// on the committed Fashion-MNIST split: the INT8 file agrees with the FP32 one on the test split.
/// </summary>
[TestClass]
public sealed class SaveOnnxInt8Tests : TempFolderTest
{
    public TestContext TestContext { get; set; } = null!;

    /// <summary>The accuracy goal: top-1 within 1 point of FP32, the same label on at least 98% of the test images.</summary>
    [TestMethod]
    public void SaveOnnxInt8_FashionMnistTestSplit_AgreesWithFp32()
    {
        var fixture = Int8Fixtures.Get();
        var truth = fixture.Test.GetColumn<uint>(TrainingData.Label).Select(k => (int)k - 1).ToArray();
        var fp32 = Int8Fixtures.Predict(fixture.Fp32Path, fixture.Test, out _);
        var int8 = Int8Fixtures.Predict(fixture.Int8Path, fixture.Test, out _);

        var fp32Accuracy = Accuracy(fp32, truth);
        var int8Accuracy = Accuracy(int8, truth);
        var agreement = Accuracy(int8, fp32);
        var minmax = Int8Fixtures.Predict(Path.Combine(Path.GetDirectoryName(fixture.Int8Path)!, "minmax.onnx"), fixture.Test, out _);
        TestContext.WriteLine($"minmax: top-1 {Accuracy(minmax, truth):P1}, same {Accuracy(minmax, fp32):P1}");
        TestContext.WriteLine($"{fixture.Classifier.Labels.Count} classes, {truth.Length} test images: FP32 top-1 {fp32Accuracy:P1}, INT8 top-1 {int8Accuracy:P1}, same label {agreement:P1}; files {new FileInfo(fixture.Fp32Path).Length} / {new FileInfo(fixture.Int8Path).Length} bytes");
        Assert.IsTrue(Math.Abs(fp32Accuracy - int8Accuracy) <= 0.01, $"INT8 top-1 {int8Accuracy:P1} is not within 1 point of FP32's {fp32Accuracy:P1}.");
        Assert.IsTrue(agreement >= 0.98, $"INT8 and FP32 give the same label on {agreement:P1} of the test images; the bar is 98%.");
    }

    private static double Accuracy(int[] predicted, int[] expected) => predicted.Zip(expected).Count(p => p.First == p.Second) / (double)expected.Length;
}
