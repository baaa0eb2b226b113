using Google.Protobuf;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;

namespace Microsoft.ML.ResNet.Tests.Export;

[TestClass]
public sealed class OnnxModelInfoTests : TempFolderTest
{
    [TestMethod]
    public void Read_ExportedFile_RoundTripsMetadata()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 3));
        var path = Path.Combine(Folder, "model.onnx");
        var options = new OnnxExportOptions
        {
            Labels = ["tabby cat", "dog \"rex\"", "日本"],
            Mean = [0.5f, 0.25f, 0.125f],
            Std = [0.1f, 0.2f, 0.3f],
            InputHeight = 96,
            InputWidth = 160,
            IncludeFeatures = true,
        };
        ResNetOnnxExporter.Export(model, path, options);

        var info = OnnxModelInfo.Read(path);

        Assert.AreEqual(ResNetArchitecture.ResNet18, info.Architecture);
        Assert.AreEqual(ResNetVariant.TorchVision, info.Variant);
        CollectionAssert.AreEqual(options.Labels.ToList(), info.Labels.ToList());
        CollectionAssert.AreEqual(options.Mean, info.Mean);
        CollectionAssert.AreEqual(options.Std, info.Std);
        Assert.AreEqual(96, info.InputHeight);
        Assert.AreEqual(160, info.InputWidth);
        Assert.AreEqual(512, info.FeatureSize);
        Assert.IsTrue(info.HasFeaturesOutput);
    }

    [TestMethod]
    public void Read_FileWithoutStageDepthsKey_HasTheArchitecturesDepths()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet34, 2));
        var proto = ResNetOnnxExporter.ToModelProto(model, new OnnxExportOptions());
        var depths = proto.MetadataProps.Single(p => p.Key == OnnxContract.Metadata.StageDepths);
        CollectionAssert.AreEqual(new[] { 3, 4, 6, 3 }, OnnxModelInfo.Read(proto.ToByteArray()).StageDepths.ToArray());

        proto.MetadataProps.Remove(depths);
        var info = OnnxModelInfo.Read(proto.ToByteArray());

        CollectionAssert.AreEqual(new[] { 3, 4, 6, 3 }, info.StageDepths.ToArray());
    }

    [TestMethod]
    public void Read_StageDepthsWithZero_ThrowsNamingKey()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 2));
        var proto = ResNetOnnxExporter.ToModelProto(model, new OnnxExportOptions());
        proto.MetadataProps.Single(p => p.Key == OnnxContract.Metadata.StageDepths).Value = "[2,0,2,2]";

        var error = Assert.ThrowsExactly<InvalidDataException>(() => OnnxModelInfo.Read(proto.ToByteArray()));

        StringAssert.Contains(error.Message, OnnxContract.Metadata.StageDepths);
        StringAssert.Contains(error.Message, "2, 0, 2, 2");
    }

    [TestMethod]
    public void Read_DefaultOptions_IndexLabelsImageNetStatisticsAndFeatures()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet50, 4));

        var info = OnnxModelInfo.Read(ResNetOnnxExporter.ToBytes(model, new OnnxExportOptions()));

        Assert.AreEqual(ResNetArchitecture.ResNet50, info.Architecture);
        CollectionAssert.AreEqual(new[] { "0", "1", "2", "3" }, info.Labels.ToList());
        CollectionAssert.AreEqual(new[] { 0.485f, 0.456f, 0.406f }, info.Mean);
        CollectionAssert.AreEqual(new[] { 0.229f, 0.224f, 0.225f }, info.Std);
        Assert.AreEqual(224, info.InputHeight);
        Assert.AreEqual(224, info.InputWidth);
        Assert.AreEqual(2048, info.FeatureSize);
        Assert.IsTrue(info.HasFeaturesOutput);
    }

    [TestMethod]
    public void Read_ModelWithoutLabelsKey_ThrowsNamingKeyAndFile()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 2));
        var proto = ResNetOnnxExporter.ToModelProto(model, new OnnxExportOptions());
        proto.MetadataProps.Remove(proto.MetadataProps.Single(p => p.Key == OnnxContract.Metadata.Labels));
        var path = Path.Combine(Folder, "foreign.onnx");
        File.WriteAllBytes(path, proto.ToByteArray());

        var error = Assert.ThrowsExactly<InvalidDataException>(() => OnnxModelInfo.Read(path));

        Assert.Contains(OnnxContract.Metadata.Labels, error.Message);
        Assert.Contains(path, error.Message);
    }

    [TestMethod]
    public void Read_NotOnnx_ThrowsNamingFile()
    {
        var path = Path.Combine(Folder, "photo.onnx");
        File.Copy(Directory.GetFiles(TestPaths.Photos, "*.png")[0], path);

        var error = Assert.ThrowsExactly<InvalidDataException>(() => OnnxModelInfo.Read(path));

        Assert.Contains(path, error.Message);
    }

    [TestMethod]
    public void Read_MissingFile_ThrowsFileNotFound()
    {
        var path = Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}.onnx");

        Assert.ThrowsExactly<FileNotFoundException>(() => OnnxModelInfo.Read(path));
    }
}
