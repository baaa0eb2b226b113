using System.Text.Json;
using Google.Protobuf;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Scoring;
using static Microsoft.ML.ResNet.Tests.Scoring.ScoringFixtures;

namespace Microsoft.ML.ResNet.Tests.Scoring;

[TestClass]
public sealed class ScoringModelInfoTests : TempFolderTest
{
    [TestMethod]
    public void Read_ExportedModel_RoundTripsMetadataAndShapes()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 3));
        var options = new OnnxExportOptions
        {
            Labels = ["tabby cat", "dog \"rex\"", "日本"],
            Mean = [0.5f, 0.25f, 0.125f],
            Std = [0.1f, 0.2f, 0.3f],
            InputHeight = 96,
            InputWidth = 160,
            IncludeFeatures = true,
        };

        var info = ScoringModelInfo.Read(ResNetOnnxExporter.ToBytes(model, options), "model.onnx", DefaultContextSettings);

        Assert.AreEqual(nameof(ResNetArchitecture.ResNet18), info.Architecture);
        Assert.AreEqual(nameof(ResNetVariant.TorchVision), info.Variant);
        CollectionAssert.AreEqual(options.Labels.ToList(), info.Labels!.ToList());
        CollectionAssert.AreEqual(options.Mean, Floats(info, OnnxContract.Metadata.Mean));
        CollectionAssert.AreEqual(options.Std, Floats(info, OnnxContract.Metadata.Std));
        Assert.AreEqual(96, info.Height);
        Assert.AreEqual(160, info.Width);
        Assert.AreEqual(3, info.NumClasses);
        Assert.AreEqual(512, info.FeatureSize);
        Assert.IsTrue(info.HasFeatures);
        CollectionAssert.AreEqual(new[] { 2, 2, 2, 2 }, info.StageDepths!.ToArray());
    }

    [TestMethod]
    public void Read_DefaultOptions_IndexLabelsImageNetStatisticsAndFeatures()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet50, 4));

        var info = ScoringModelInfo.Read(ResNetOnnxExporter.ToBytes(model, new OnnxExportOptions()), "model.onnx", DefaultContextSettings);

        Assert.AreEqual(nameof(ResNetArchitecture.ResNet50), info.Architecture);
        CollectionAssert.AreEqual(new[] { "0", "1", "2", "3" }, info.Labels!.ToList());
        CollectionAssert.AreEqual(new[] { 0.485f, 0.456f, 0.406f }, Floats(info, OnnxContract.Metadata.Mean));
        CollectionAssert.AreEqual(new[] { 0.229f, 0.224f, 0.225f }, Floats(info, OnnxContract.Metadata.Std));
        Assert.AreEqual(224, info.Height);
        Assert.AreEqual(224, info.Width);
        Assert.AreEqual(2048, info.FeatureSize);
    }

    [TestMethod]
    public void Read_ModelWithoutStageDepthsKey_HasNone()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet34, 2));
        var proto = ResNetOnnxExporter.ToModelProto(model, new OnnxExportOptions());
        proto.MetadataProps.Remove(proto.MetadataProps.Single(p => p.Key == OnnxContract.Metadata.StageDepths));

        var info = ScoringModelInfo.Read(proto.ToByteArray(), "older.onnx", DefaultContextSettings);

        Assert.IsNull(info.StageDepths, "An older export says nothing: the scorer then takes the architecture's depths.");
    }

    [TestMethod]
    public void Read_StageDepthsWithZero_ThrowsNamingKey()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 2));
        var proto = ResNetOnnxExporter.ToModelProto(model, new OnnxExportOptions());
        proto.MetadataProps.Single(p => p.Key == OnnxContract.Metadata.StageDepths).Value = "[2,0,2,2]";

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => ScoringModelInfo.Read(proto.ToByteArray(), "bad.onnx", DefaultContextSettings));

        StringAssert.Contains(error.Message, OnnxContract.Metadata.StageDepths);
        StringAssert.Contains(error.Message, "[2,0,2,2]");
    }

    [TestMethod]
    public void Read_NotOnnx_ThrowsNamingSource()
    {
        var photo = Directory.GetFiles(TestPaths.Photos, "*.png")[0];

        var error = Assert.ThrowsExactly<InvalidDataException>(() => ScoringModelInfo.Read(File.ReadAllBytes(photo), photo, DefaultContextSettings));

        StringAssert.Contains(error.Message, photo);
    }

    private static float[] Floats(ScoringModelInfo info, string key) => JsonSerializer.Deserialize<float[]>(info.Metadata[key])!;
}
