using Microsoft.ML.ResNet.Catalog;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;
using static Microsoft.ML.ResNet.Tests.Scoring.ScoringFixtures;

namespace Microsoft.ML.ResNet.Tests.Catalog;

/// <summary>Garbage and truncated ONNX files given as ModelPath: errors that name the file.</summary>
[TestClass]
public sealed class ModelPreparerTests : TempFolderTest
{
    [TestMethod]
    public void Prepare_TextFileAsOnnx_ThrowsInvalidDataNamingTheFile()
    {
        var path = Path.Combine(Folder, "model.onnx");
        File.WriteAllText(path, "This is a README, not a network.\n");

        var error = MemoryProbe.ThrowsWithinBudget<InvalidDataException>(() => ModelPreparer.Prepare(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = path }, DefaultContextSettings));

        StringAssert.Contains(error.Message, path);
    }

    [TestMethod]
    public void Prepare_TruncatedOnnx_ThrowsInvalidDataNamingTheFile()
    {
        var path = Path.Combine(Folder, "truncated.onnx");
        var whole = ExportSmall();
        File.WriteAllBytes(path, whole[..(whole.Length / 2)]);

        var error = MemoryProbe.ThrowsWithinBudget<InvalidDataException>(() => ModelPreparer.Prepare(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = path }, DefaultContextSettings));

        StringAssert.Contains(error.Message, path);
    }

    [TestMethod]
    public void Prepare_WholeOnnx_Loads()
    {
        var path = Path.Combine(Folder, "whole.onnx");
        File.WriteAllBytes(path, ExportSmall());

        var prepared = ModelPreparer.Prepare(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = path }, DefaultContextSettings);

        Assert.AreEqual(2, prepared.Labels.Count);
    }

    [TestMethod]
    public void ResNetClassify_EmptyOnnxFile_FitThrowsInvalidDataNamingTheFile()
    {
        var path = Path.Combine(Folder, "empty.onnx");
        File.WriteAllBytes(path, []);
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(Array.Empty<Scoring.ScoringFixtures.PixelRow>());

        var error = Assert.ThrowsExactly<InvalidDataException>(() => ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = path }).Fit(data));

        StringAssert.Contains(error.Message, path);
    }

    private static byte[] ExportSmall()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 2));
        return ResNetOnnxExporter.ToBytes(model, new OnnxExportOptions { Labels = ["a", "b"], InputHeight = 32, InputWidth = 32 });
    }
}
