using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Scoring;
using static Microsoft.ML.ResNet.Tests.Scoring.ScoringFixtures;

namespace Microsoft.ML.ResNet.Tests.Export;

/// <summary>
/// The public <see cref="ResNetOnnxExporter.Export(string, string, OnnxExportOptions?)"/>: a weights file to our ONNX
/// without a pipeline. PyTorch is the judge of the numbers; bad input names the file.
/// </summary>
[TestClass]
public sealed class WeightsExportTests : TempFolderTest
{
    private const float Tolerance = 1e-4f;

    /// <summary>Debian's PyTorch made the .pth and its logits on the committed photos.</summary>
    [TestMethod]
    public void Export_PthWeights_PassesFullCheckAndGivesPyTorchsLogits()
    {
        PythonReference.RequireModule("onnx");
        var fixture = PythonReference.Get("resnet18");
        var path = Path.Combine(Folder, "resnet18.onnx");

        ResNetOnnxExporter.Export(fixture.WeightsPath, path, new OnnxExportOptions { Architecture = ResNetArchitecture.ResNet18 });

        PythonReference.CheckOnnx(path);
        using var pixels = ExportFixtures.LoadPhotos();
        using var session = new InferenceSession(path);
        var outputs = ExportFixtures.RunOnnx(session, pixels, OnnxContract.LogitsOutput, OnnxContract.FeaturesOutput);
        var expected = fixture.Outputs.Logits.SelectMany(row => row).ToArray();
        Assert.IsLessThanOrEqualTo(Tolerance, ExportFixtures.MaxAbsDifference(expected, outputs[OnnxContract.LogitsOutput]), "max |ONNX Runtime - PyTorch| on the logits");
        Assert.HasCount(fixture.Outputs.Images.Length * 512, outputs[OnnxContract.FeaturesOutput], "features are an output by default");
        var metadata = session.ModelMetadata.CustomMetadataMap;
        Assert.AreEqual("ResNet18", metadata[OnnxContract.Metadata.Architecture]);
        CollectionAssert.AreEqual(
            Enumerable.Range(0, 1000).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray(),
            JsonSerializer.Deserialize<string[]>(metadata[OnnxContract.Metadata.Labels]),
            "a .pth has no labels: the indices stand in");

        // The stream overload writes the same bytes and leaves the stream open.
        using var stream = new MemoryStream();
        ResNetOnnxExporter.Export(fixture.WeightsPath, stream, new OnnxExportOptions { Architecture = ResNetArchitecture.ResNet18 });
        CollectionAssert.AreEqual(File.ReadAllBytes(path), stream.ToArray());
    }

    /// <summary>The .safetensors SaveWeights writes says which network it holds and its labels: no options needed.</summary>
    [TestMethod]
    public void Export_OurWeightsFile_TakesArchitectureLabelsAndDepthsFromTheFile()
    {
        var weights = SmallWeights(stageDepths: [1, 1, 1, 2]);
        var path = Path.Combine(Folder, "small.onnx");

        ResNetOnnxExporter.Export(weights, path, new OnnxExportOptions { InputHeight = 64, InputWidth = 48, IncludeFeatures = false });

        var info = ScoringModelInfo.Read(File.ReadAllBytes(path), path, DefaultContextSettings);
        Assert.AreEqual(nameof(ResNetArchitecture.ResNet18), info.Architecture);
        CollectionAssert.AreEqual(new[] { "cat", "dog" }, info.Labels!.ToArray());
        CollectionAssert.AreEqual(new[] { 1, 1, 1, 2 }, info.StageDepths!.ToArray());
        Assert.AreEqual(64, info.Height);
        Assert.AreEqual(48, info.Width);
        Assert.IsFalse(info.HasFeatures);
    }

    [TestMethod]
    public void Export_PthWithoutArchitecture_ThrowsNamingTheFileAndWritesNothing()
    {
        var weights = FixtureModels.ResNet18Pth();
        var path = Path.Combine(Folder, "model.onnx");

        var error = Assert.ThrowsExactly<ArgumentException>(() => ResNetOnnxExporter.Export(weights, path));

        Assert.AreEqual(nameof(OnnxExportOptions.Architecture), error.ParamName);
        StringAssert.Contains(error.Message, weights);
        Assert.IsEmpty(Directory.GetFileSystemEntries(Folder));
    }

    [TestMethod]
    public void Export_ArchitectureTheFileContradicts_ThrowsNamingTheFile()
    {
        var weights = SmallWeights();

        var error = Assert.ThrowsExactly<ArgumentException>(
            () => ResNetOnnxExporter.Export(weights, Path.Combine(Folder, "model.onnx"), new OnnxExportOptions { Architecture = ResNetArchitecture.ResNet34 }));

        Assert.AreEqual(nameof(OnnxExportOptions.Architecture), error.ParamName);
        StringAssert.Contains(error.Message, weights);
        StringAssert.Contains(error.Message, "ResNet18");
    }

    [TestMethod]
    public void Export_WrongLabelCount_ThrowsNamingTheFileAndCounts()
    {
        var weights = SmallWeights();

        var error = Assert.ThrowsExactly<ArgumentException>(
            () => ResNetOnnxExporter.Export(weights, Path.Combine(Folder, "model.onnx"), new OnnxExportOptions { Labels = ["one", "two", "three"] }));

        Assert.AreEqual(nameof(OnnxExportOptions.Labels), error.ParamName);
        StringAssert.Contains(error.Message, weights);
        StringAssert.Contains(error.Message, "2 classes but 3 labels");
    }

    [TestMethod]
    public void Export_MissingWeightsFile_ThrowsFileNotFoundNamingIt()
    {
        var weights = Path.Combine(Folder, "absent.pth");

        var error = Assert.ThrowsExactly<FileNotFoundException>(() => ResNetOnnxExporter.Export(weights, Path.Combine(Folder, "model.onnx")));

        Assert.AreEqual(weights, error.FileName);
        StringAssert.Contains(error.Message, weights);
    }

    [TestMethod]
    public void Export_OutputInAMissingFolder_ThrowsNamingThePathAndCreatesNothing()
    {
        var weights = SmallWeights();
        var path = Path.Combine(Folder, "missing", "model.onnx");

        var error = Assert.ThrowsExactly<DirectoryNotFoundException>(() => ResNetOnnxExporter.Export(weights, path));

        StringAssert.Contains(error.Message, path);
        Assert.IsFalse(Directory.Exists(Path.GetDirectoryName(path)));
    }

    /// <summary>A fresh 2-class ResNet-18 (labels cat, dog) in our described .safetensors, in the test's folder.</summary>
    private string SmallWeights(int[]? stageDepths = null)
    {
        var path = Path.Combine(Folder, "small.safetensors");
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 2, StageDepths: stageDepths));
        ResNetWeights.Save(model, path, ["cat", "dog"]);
        return path;
    }
}
