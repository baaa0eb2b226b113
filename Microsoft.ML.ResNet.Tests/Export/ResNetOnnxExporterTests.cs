using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Scoring;
using Onnx;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static Microsoft.ML.ResNet.Tests.Export.ExportFixtures;
using static Microsoft.ML.ResNet.Tests.Scoring.ScoringFixtures;

namespace Microsoft.ML.ResNet.Tests.Export;

[TestClass]
public sealed class ResNetOnnxExporterTests : TempFolderTest
{
    private const float Tolerance = 1e-4f;
    private static Tensor? _photos;

    private static Tensor Photos => _photos ??= LoadPhotos();

    [ClassCleanup]
    public static void DisposePhotos() => _photos?.Dispose();

    [TestMethod]
    [DataRow(ResNetArchitecture.ResNet18, 224, 224, new[] { 1, 8 })]
    [DataRow(ResNetArchitecture.ResNet34, 224, 224, new[] { 1, 8 })]
    [DataRow(ResNetArchitecture.ResNet50, 224, 224, new[] { 1, 8 })]
    [DataRow(ResNetArchitecture.ResNet18, 96, 160, new[] { 1, 8 })]
    [DataRow(ResNetArchitecture.ResNet34, 160, 96, new[] { 1, 8 })]
    [DataRow(ResNetArchitecture.ResNet50, 96, 160, new[] { 1, 8 })]
    public void ToBytes_CalibratedModel_OnnxRuntimeLogitsMatchTorchSharpForEachBatch(ResNetArchitecture architecture, int height, int width, int[] batches)
    {
        using var model = CalibratedModel(architecture, Photos);
        var onnx = ResNetOnnxExporter.ToBytes(model, new OnnxExportOptions { InputHeight = height, InputWidth = width });

        // One session for every batch size: the batch axis is dynamic.
        using var session = new InferenceSession(onnx);
        foreach (var batch in batches)
        {
            using var pixels = Batch(Photos, batch, height, width);
            var expected = TorchLogits(model, pixels);

            var actual = RunOnnx(session, pixels, OnnxContract.LogitsOutput)[OnnxContract.LogitsOutput];

            Assert.HasCount(batch * 1000, actual);
            var difference = MaxAbsDifference(expected, actual);
            Assert.IsLessThanOrEqualTo(Tolerance, difference, $"batch {batch}: max |logit difference| {difference:g3} (max |logit| {expected.Max(Math.Abs):g3})");
        }
    }

    [TestMethod]
    [DataRow(ResNetArchitecture.ResNet18, new[] { 2, 2, 2, 3 })]
    [DataRow(ResNetArchitecture.ResNet50, new[] { 1, 2, 1, 1 })]
    public void ToBytes_CustomStageDepths_OnnxRuntimeMatchesTorchSharpAndMetadataRecordsDepths(ResNetArchitecture architecture, int[] depths)
    {
        using var model = CalibratedModel(architecture, Photos, classes: 10, stageDepths: depths);
        var onnx = ResNetOnnxExporter.ToBytes(model, new OnnxExportOptions { IncludeFeatures = true });
        using var pixels = Batch(Photos, 4, 224, 224);

        var actual = RunOnnx(onnx, pixels, OnnxContract.LogitsOutput, OnnxContract.FeaturesOutput);

        var logitDifference = MaxAbsDifference(TorchLogits(model, pixels), actual[OnnxContract.LogitsOutput]);
        var featureDifference = MaxAbsDifference(TorchFeatures(model, pixels), actual[OnnxContract.FeaturesOutput]);
        Assert.IsLessThanOrEqualTo(Tolerance, logitDifference, $"max |logit difference| {logitDifference:g3}");
        Assert.IsLessThanOrEqualTo(Tolerance, featureDifference, $"max |feature difference| {featureDifference:g3}");
        CollectionAssert.AreEqual(depths, ScoringModelInfo.Read(onnx, "model.onnx", DefaultContextSettings).StageDepths!.ToArray());
    }

    [TestMethod]
    public void ToBytes_IncludeFeatures_ProbabilitiesAreSoftmaxAndFeaturesMatchTorchSharp()
    {
        using var model = CalibratedModel(ResNetArchitecture.ResNet18, Photos, classes: 10);
        using var pixels = Batch(Photos, 4, 224, 224);
        var onnx = ResNetOnnxExporter.ToBytes(model, new OnnxExportOptions { IncludeFeatures = true });

        var outputs = RunOnnx(onnx, pixels, OnnxContract.LogitsOutput, OnnxContract.ProbabilitiesOutput, OnnxContract.FeaturesOutput);

        var logits = outputs[OnnxContract.LogitsOutput];
        Assert.IsLessThanOrEqualTo(1e-6f, MaxAbsDifference(Softmax(logits, 10), outputs[OnnxContract.ProbabilitiesOutput]));
        Assert.IsLessThanOrEqualTo(Tolerance, MaxAbsDifference(TorchLogits(model, pixels), logits));
        var features = outputs[OnnxContract.FeaturesOutput];
        Assert.HasCount(4 * 512, features);
        Assert.IsLessThanOrEqualTo(Tolerance, MaxAbsDifference(TorchFeatures(model, pixels), features));
    }

    [TestMethod]
    public void ToBytes_ResNet50WithFeatures_Features2048WideMatchTorchSharp()
    {
        using var model = CalibratedModel(ResNetArchitecture.ResNet50, Photos, classes: 3);
        using var pixels = Batch(Photos, 2, 96, 96);
        var onnx = ResNetOnnxExporter.ToBytes(model, new OnnxExportOptions { InputHeight = 96, InputWidth = 96, IncludeFeatures = true });

        var features = RunOnnx(onnx, pixels, OnnxContract.FeaturesOutput)[OnnxContract.FeaturesOutput];

        Assert.HasCount(2 * 2048, features);
        Assert.IsLessThanOrEqualTo(Tolerance, MaxAbsDifference(TorchFeatures(model, pixels), features));
    }

    [TestMethod]
    public void ToBytes_StagesWithExtraConvAndLoneBatchNorm_EmittedAndMatchTorchSharp()
    {
        using var model = CalibratedModel(ResNetArchitecture.ResNet18, Photos, classes: 10);
        using (no_grad())
        {
            // A Conv2d with its own bias and no BatchNorm, and a BatchNorm2d after a block (nothing to fold into).
            var convolution = nn.Conv2d(64, 64, 1, bias: true);
            convolution.weight!.mul_(0.5);
            model.layer1.append("2", convolution);
            var batchNorm = nn.BatchNorm2d(512);
            batchNorm.running_mean!.copy_(rand(512) * 0.2);
            batchNorm.running_var!.copy_((rand(512) * 0.6) + 0.7);
            batchNorm.weight!.copy_((rand(512) * 0.6) + 0.4);
            batchNorm.bias!.copy_(randn(512) * 0.1);
            model.layer4.append("2", batchNorm);
        }

        model.eval();
        using var pixels = Batch(Photos, 2, 224, 224);

        var proto = ResNetOnnxExporter.ToModelProto(model, new OnnxExportOptions());

        Assert.AreEqual(1, proto.Graph.Node.Count(n => n.OpType == "BatchNormalization"));
        Assert.IsTrue(proto.Graph.Node.Any(n => n.Input.Contains("layer1.2.weight") && n.Input.Contains("layer1.2.bias")));
        var logits = RunOnnx(Google.Protobuf.MessageExtensions.ToByteArray(proto), pixels, OnnxContract.LogitsOutput)[OnnxContract.LogitsOutput];
        Assert.IsLessThanOrEqualTo(Tolerance, MaxAbsDifference(TorchLogits(model, pixels), logits));
    }

    [TestMethod]
    public void ToModelProto_Default_DeclaresContractInputsOutputsOpsetAndProducer()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 7));

        var proto = ResNetOnnxExporter.ToModelProto(model, new OnnxExportOptions { InputHeight = 64, InputWidth = 48 });

        Assert.AreEqual(OnnxContract.Opset, proto.OpsetImport.Single().Version);
        Assert.AreEqual(OnnxContract.ProducerName, proto.ProducerName);
        Assert.IsFalse(string.IsNullOrEmpty(proto.ProducerVersion));
        var input = proto.Graph.Input.Single();
        Assert.AreEqual(OnnxContract.PixelsInput, input.Name);
        var dims = input.Type.TensorType.Shape.Dim;
        Assert.AreEqual(OnnxContract.BatchDimension, dims[0].DimParam);
        CollectionAssert.AreEqual(new long[] { 3, 64, 48 }, dims.Skip(1).Select(d => d.DimValue).ToList());
        CollectionAssert.AreEqual(
            new[] { OnnxContract.LogitsOutput, OnnxContract.ProbabilitiesOutput, OnnxContract.FeaturesOutput },
            proto.Graph.Output.Select(o => o.Name).ToList());
        Assert.AreEqual(7, proto.Graph.Output[0].Type.TensorType.Shape.Dim[1].DimValue);
        CollectionAssert.AreEqual(new[] { "Sub", "Div", "Conv" }, proto.Graph.Node.Take(3).Select(n => n.OpType).ToList());
    }

    [TestMethod]
    public void ToModelProto_AnyModel_HasNoBatchNormAndOneBiasPerConv()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet34, 1000));

        var graph = ResNetOnnxExporter.ToModelProto(model, new OnnxExportOptions()).Graph;

        Assert.IsFalse(graph.Node.Any(n => n.OpType == "BatchNormalization"));
        var convolutions = graph.Node.Where(n => n.OpType == "Conv").ToList();
        Assert.HasCount(36, convolutions);
        Assert.IsTrue(convolutions.All(n => n.Input.Count == 3));
    }

    [TestMethod]
    public void ToBytes_ResNet34_SizeIsFourBytesPerFoldedParameter()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet34, 1000));
        var convolutionBiases = model.modules().OfType<Conv2d>().Sum(c => c.out_channels);
        var batchNormParameters = model.modules().OfType<BatchNorm2d>().Sum(b => 2 * b.num_features);
        var folded = model.parameters().Sum(p => p.numel()) - batchNormParameters + convolutionBiases + 6;

        var bytes = ResNetOnnxExporter.ToBytes(model, new OnnxExportOptions());

        var ratio = bytes.Length / (4.0 * folded);
        Assert.IsTrue(ratio is >= 1.0 and < 1.002, $"{bytes.Length} bytes for {folded} folded parameters: {ratio:F5} x 4 bytes");
    }

    [TestMethod]
    public void ToBytes_ModelInTrainMode_ExportsEvalSemanticsAndKeepsTrainMode()
    {
        using var model = CalibratedModel(ResNetArchitecture.ResNet18, Photos, classes: 10);
        using var pixels = Batch(Photos, 2, 224, 224);
        model.train();

        var onnx = ResNetOnnxExporter.ToBytes(model, new OnnxExportOptions());

        Assert.IsTrue(model.training, "the caller's model must stay in train mode");
        Assert.IsTrue(model.bn1.training, "submodules must stay in train mode");
        var logits = RunOnnx(onnx, pixels, OnnxContract.LogitsOutput)[OnnxContract.LogitsOutput];
        Assert.IsLessThanOrEqualTo(Tolerance, MaxAbsDifference(TorchLogits(model, pixels), logits));
    }

    [TestMethod]
    public void ToBytes_ProjectionShortcutsVariant_MatchesTorchSharpAt224()
    {
        using var model = CalibratedModel(ResNetArchitecture.ResNet18, Photos, classes: 10, variant: ResNetVariant.ProjectionShortcuts);
        using var pixels = Batch(Photos, 3, 224, 224);

        var onnx = ResNetOnnxExporter.ToBytes(model, new OnnxExportOptions());

        var logits = RunOnnx(onnx, pixels, OnnxContract.LogitsOutput)[OnnxContract.LogitsOutput];
        Assert.IsLessThanOrEqualTo(Tolerance, MaxAbsDifference(TorchLogits(model, pixels), logits));
        Assert.AreEqual(nameof(ResNetVariant.ProjectionShortcuts), ScoringModelInfo.Read(onnx, "model.onnx", DefaultContextSettings).Variant);
    }

    [TestMethod]
    public void ToModelProto_ProjectionShortcutsNot224_ThrowsNamingSizes()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 10, ResNetVariant.ProjectionShortcuts));

        var error = Assert.ThrowsExactly<ArgumentException>(
            () => ResNetOnnxExporter.ToModelProto(model, new OnnxExportOptions { InputHeight = 224, InputWidth = 160 }));

        Assert.AreEqual("options", error.ParamName);
        Assert.Contains("224x160", error.Message);
    }

    [TestMethod]
    public void ToModelProto_LabelCountMismatch_ThrowsNamingBothCounts()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 3));

        var error = Assert.ThrowsExactly<ArgumentException>(
            () => ResNetOnnxExporter.ToModelProto(model, new OnnxExportOptions { Labels = ["cat", "dog"] }));

        Assert.AreEqual("Labels", error.ParamName);
        Assert.Contains("2 labels", error.Message);
        Assert.Contains("3 classes", error.Message);
    }

    [TestMethod]
    [DataRow(31, 224, "InputHeight")]
    [DataRow(224, 16, "InputWidth")]
    public void ToModelProto_InputSideBelow32_ThrowsNamingSide(int height, int width, string parameter)
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 3));

        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(
            () => ResNetOnnxExporter.ToModelProto(model, new OnnxExportOptions { InputHeight = height, InputWidth = width }));

        Assert.AreEqual(parameter, error.ParamName);
    }

    [TestMethod]
    public void ToModelProto_StdWithZero_ThrowsNamingStd()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 3));

        var error = Assert.ThrowsExactly<ArgumentException>(
            () => ResNetOnnxExporter.ToModelProto(model, new OnnxExportOptions { Std = [0.2f, 0f, 0.2f] }));

        Assert.AreEqual("Std", error.ParamName);
    }

    [TestMethod]
    public void ToModelProto_DropoutAddedToBlock_ThrowsNamingPathAndType()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 3));
        ((nn.Module)model.layer2[1]).register_module("extra", nn.Dropout());

        var error = Assert.ThrowsExactly<NotSupportedException>(
            () => ResNetOnnxExporter.ToModelProto(model, new OnnxExportOptions()));

        StringAssert.StartsWith(error.Message, "layer2.1.extra: Dropout");
    }

    [TestMethod]
    public void ToModelProto_BlockReluReplacedByGelu_ThrowsNamingPathAndType()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet50, 3));
        var block = (nn.Module)model.layer1[0];
        block.register_module("relu", null!);
        block.register_module("relu", nn.GELU());

        var error = Assert.ThrowsExactly<NotSupportedException>(
            () => ResNetOnnxExporter.ToModelProto(model, new OnnxExportOptions()));

        StringAssert.StartsWith(error.Message, "layer1.0.relu: GELU");
    }

    [TestMethod]
    public void ToModelProto_BlockBatchNormRemoved_ThrowsNamingMissingChild()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 3));
        ((nn.Module)model.layer4[1]).register_module("bn2", null!);

        var error = Assert.ThrowsExactly<NotSupportedException>(
            () => ResNetOnnxExporter.ToModelProto(model, new OnnxExportOptions()));

        StringAssert.StartsWith(error.Message, "layer4.1.bn2: missing");
    }

    [TestMethod]
    public void ToModelProto_DropoutInDownsampleSequential_ThrowsNamingPathAndType()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 3));
        var block = (BasicBlock)model.layer3[0];
        block.downsample!.append("2", nn.Dropout());

        var error = Assert.ThrowsExactly<NotSupportedException>(
            () => ResNetOnnxExporter.ToModelProto(model, new OnnxExportOptions()));

        StringAssert.StartsWith(error.Message, "layer3.0.downsample.2: Dropout");
    }

    [TestMethod]
    public void Export_ExistingFile_ReplacedAndNoTempLeft()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 3));
        var path = Path.Combine(Folder, "model.onnx");
        File.WriteAllText(path, "old");

        ResNetOnnxExporter.Export(model, path, new OnnxExportOptions { Labels = ["a", "b", "c"] });

        CollectionAssert.AreEqual(new[] { "a", "b", "c" }, ScoringModelInfo.Read(File.ReadAllBytes(path), path, DefaultContextSettings).Labels!.ToList());
        CollectionAssert.AreEqual(new[] { path }, Directory.GetFiles(Folder));
    }

    [TestMethod]
    public void Export_InvalidOptions_ExistingFileUntouched()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 3));
        var path = Path.Combine(Folder, "model.onnx");
        File.WriteAllText(path, "old");

        Assert.ThrowsExactly<ArgumentException>(() => ResNetOnnxExporter.Export(model, path, new OnnxExportOptions { Labels = ["a"] }));

        Assert.AreEqual("old", File.ReadAllText(path));
        CollectionAssert.AreEqual(new[] { path }, Directory.GetFiles(Folder));
    }

    [TestMethod]
    public void Export_Files_PassOnnxFullCheck()
    {
        PythonReference.RequireModule("onnx");
        using var resnet18 = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 10));
        using var resnet50 = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet50, 5));
        using var projection = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet34, 1000, ResNetVariant.ProjectionShortcuts));
        var files = new[] { "resnet18.onnx", "resnet50.onnx", "projection.onnx" }.Select(f => Path.Combine(Folder, f)).ToArray();
        ResNetOnnxExporter.Export(resnet18, files[0], new OnnxExportOptions { IncludeFeatures = true, InputHeight = 96, InputWidth = 160 });
        ResNetOnnxExporter.Export(resnet50, files[1], new OnnxExportOptions { IncludeFeatures = true });
        ResNetOnnxExporter.Export(projection, files[2], new OnnxExportOptions());

        // Throws with the checker's output when any file fails.
        PythonReference.CheckOnnx(files);
    }
}
