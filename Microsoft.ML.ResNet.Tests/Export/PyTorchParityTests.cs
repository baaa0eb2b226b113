using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Tests.Export;

/// <summary>
/// PyTorch itself is the judge: its seeded torchvision network's <c>.pth</c>, imported by our loader,
/// must give PyTorch's logits both in TorchSharp and in ONNX Runtime on our exported file.
/// </summary>
[TestClass]
public sealed class PyTorchParityTests
{
    private const float Tolerance = 1e-4f;

    [TestMethod]
    [DataRow("resnet18", ResNetArchitecture.ResNet18)]
    [DataRow("resnet34", ResNetArchitecture.ResNet34)]
    [DataRow("resnet50", ResNetArchitecture.ResNet50)]
    public void ExportedPth_OnOnnxRuntime_MatchesPyTorchLogits(string arch, ResNetArchitecture architecture)
    {
        var fixture = PythonReference.Get(arch);
        using var model = new ResNetModel(new ResNetSpec(architecture, fixture.Outputs.Num_classes));
        ResNetWeights.Load(model, fixture.WeightsPath);
        using var pixels = ExportFixtures.LoadPhotos();
        var expectedLogits = fixture.Outputs.Logits.SelectMany(row => row).ToArray();

        var onnx = ResNetOnnxExporter.ToBytes(model, new OnnxExportOptions());
        var outputs = ExportFixtures.RunOnnx(onnx, pixels, OnnxContract.LogitsOutput, OnnxContract.ProbabilitiesOutput);

        var logitsDifference = ExportFixtures.MaxAbsDifference(expectedLogits, outputs[OnnxContract.LogitsOutput]);
        var probabilitiesDifference = ExportFixtures.MaxAbsDifference(
            fixture.Outputs.Probabilities.SelectMany(row => row).ToArray(), outputs[OnnxContract.ProbabilitiesOutput]);
        Assert.IsLessThanOrEqualTo(Tolerance, logitsDifference, $"max |ONNX Runtime - PyTorch| on {arch} logits");
        Assert.IsLessThanOrEqualTo(Tolerance, probabilitiesDifference, $"max |ONNX Runtime - PyTorch| on {arch} softmax");
    }

    [TestMethod]
    public void PhotosDecodedByMLNet_EqualPyTorchsPixels()
    {
        var fixture = PythonReference.Get("resnet34");
        using var ours = ExportFixtures.LoadPhotos();
        var theirs = fixture.ReadInput();

        Assert.AreEqual(0f, ExportFixtures.MaxAbsDifference(theirs, ours.data<float>().ToArray()), "PNG decoding differs between ML.NET and PIL");
    }
}
