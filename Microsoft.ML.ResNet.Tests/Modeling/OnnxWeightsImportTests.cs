using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;
using Onnx;
using static Microsoft.ML.ResNet.Tests.Export.ExportFixtures;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Tests.Modeling;

/// <summary>
/// <see cref="OnnxResNetImporter"/> through <see cref="WeightsFile"/>: ML.NET's DnnImageFeaturizer ResNet-18 (CNTK, opset 8)
/// and a torchvision ResNet exported by torch.onnx, judged by ONNX Runtime and PyTorch on the committed photographs.
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed class OnnxWeightsImportTests : TempFolderTest
{
    /// <summary>max |difference| / max |feature|: the issue's bar for an exact mapping.</summary>
    private const float RelativeTolerance = 1e-4f;

    private const string PackageInput = "Input247";
    private const string PackageOutput = "Pooling395_Output_0";
    private const int Side = 224;

    private static Tensor? _photos;

    private static Tensor Photos => _photos!;

    private static string PackageOnnx => FeaturizerPackage.FindResNet18Onnx()
        ?? throw new AssertFailedException($"{FeaturizerPackage.RelativeOnnxPath} is not beside the tests; the test project references {FeaturizerPackage.PackageId}.");

    // Loaded once, outside any dispose scope (a lazy load inside a test's scope would be disposed with it).
    [ClassInitialize]
    public static void LoadPhotosOnce(TestContext context) => _photos = LoadPhotos();

    [ClassCleanup]
    public static void DisposePhotos() => _photos?.Dispose();

    [TestMethod]
    public void FindResNet18Onnx_PackageReferenced_ReturnsFileBesideTheTests()
    {
        var path = FeaturizerPackage.FindResNet18Onnx();

        Assert.IsNotNull(path);
        Assert.AreEqual(Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, FeaturizerPackage.RelativeOnnxPath)), Path.GetFullPath(path));
        Assert.IsNotNull(FeaturizerPackage.FindPreprocessFor(path));
    }

    [TestMethod]
    public void Read_PackageOnnx_DescribesResNet18With2223DepthsNoHeadAndChannelMeans()
    {
        using var file = WeightsFile.Read(PackageOnnx);

        Assert.AreEqual(WeightsFormat.Onnx, file.Format);
        Assert.IsNotNull(file.DescribedSpec);
        Assert.AreEqual(ResNetArchitecture.ResNet18, file.DescribedSpec.Architecture);
        CollectionAssert.AreEqual(new[] { 2, 2, 2, 3 }, file.DescribedSpec.BlocksPerStage.ToArray());
        Assert.IsNull(file.HeadClassCount);
        Assert.IsNotNull(file.Normalization);

        // Per-channel means of the package's MeanImage (BGR 103.06, 115.90, 123.15 on 0..255, measured with onnx/numpy),
        // reported in RGB order on 0..1 pixels; std 1/255 turns 0..1 back into 0..255.
        var expectedMean = new[] { 123.15163f / 255, 115.902885f / 255, 103.06262f / 255 };
        for (var c = 0; c < 3; c++)
        {
            Assert.AreEqual(expectedMean[c], file.Normalization.Mean[c], 1e-5f, $"mean of channel {c}");
            Assert.AreEqual(1f / 255, file.Normalization.Std[c], 1e-9f, $"std of channel {c}");
        }

        // 15.9 M parameters; 21 convolutions + 21 BatchNorms (5 tensors each) mapped.
        Assert.AreEqual(15_897_152L, file.Tensors.Where(kv => !kv.Key.EndsWith("num_batches_tracked", StringComparison.Ordinal) && !kv.Key.Contains("running", StringComparison.Ordinal)).Sum(kv => kv.Value.numel()));
    }

    [TestMethod]
    public void Features_AfterImportingPackageOnnx_MatchOnnxRuntimeOnTheSameChannelMeans()
    {
        using var model = ImportPackage(out var normalization);
        var ours = OurFeatures(model, normalization);

        // The package's network on the input its preprocessing would give with per-channel means: BGR, x*255 - mean.
        // ORT runs CNTK's asymmetric pads ([3,3,2,2], [1,1,0,0]); TorchSharp our symmetric ones: equal here, as claimed.
        var meanBgr = normalization.Mean.Reverse().Select(m => m * 255).ToArray();
        using var session = new InferenceSession(PackageOnnx);
        var reference = ForEachPhoto(chw => RunPackageNetwork(session, ToBgrMinusMeans(chw, meanBgr)));

        var relative = MaxAbsDifference(reference, ours) / reference.Max(Math.Abs);
        Assert.IsLessThanOrEqualTo(RelativeTolerance, relative, $"max |ours - ORT| / max |feature| = {relative:g3}");
    }

    [TestMethod]
    public void Export_AfterImportingPackageOnnx_FeaturesOutputMatchesOnnxRuntimeOnThePackage()
    {
        using var model = ImportPackage(out var normalization);
        var onnx = ResNetOnnxExporter.ToBytes(model, new OnnxExportOptions { Mean = normalization.Mean, Std = normalization.Std, IncludeFeatures = true });

        var exported = RunOnnx(onnx, Photos, OnnxContract.FeaturesOutput)[OnnxContract.FeaturesOutput];
        var meanBgr = normalization.Mean.Reverse().Select(m => m * 255).ToArray();
        using var session = new InferenceSession(PackageOnnx);
        var reference = ForEachPhoto(chw => RunPackageNetwork(session, ToBgrMinusMeans(chw, meanBgr)));

        var relative = MaxAbsDifference(reference, exported) / reference.Max(Math.Abs);
        Assert.IsLessThanOrEqualTo(RelativeTolerance, relative, $"max |exported - ORT| / max |feature| = {relative:g3}");
    }

    [TestMethod]
    public void Features_AfterImportingPackageOnnx_CloseToPackagesOwnPreprocessAndNetwork()
    {
        using var model = ImportPackage(out var normalization);
        var ours = OurFeatures(model, normalization);
        using var preprocess = new InferenceSession(FeaturizerPackage.FindPreprocessFor(PackageOnnx)!);
        using var network = new InferenceSession(PackageOnnx);

        // The package's own path: RGB on 0..255 -> its Split/Concat/Sub of the spatial mean image -> its network.
        var reference = ForEachPhoto(chw =>
        {
            var pixels = chw.Select(v => v * 255).ToArray();
            using var runOptions = new RunOptions();
            using var input = OrtValue.CreateTensorValueFromMemory(pixels, [1, 3, Side, Side]);
            using var output = preprocess.Run(runOptions, ["OriginalInput"], [input], ["PreprocessedInput"]);
            return RunPackageNetwork(network, output[0].GetTensorDataAsSpan<float>().ToArray());
        });

        // The mean image differs from its channel means by a few units of 255 (std 3-6 across the image), so this is
        // close, not exact. Measured on the five photos: cosine 0.99855 to 0.99968 per photo, max |difference| / max |feature|
        // 0.031; the exact-mapping tests above are the proof, this one bounds the cost of using channel means.
        const int featureSize = 512;
        var cosines = Enumerable.Range(0, reference.Length / featureSize)
            .Select(image => Cosine(reference.AsSpan(image * featureSize, featureSize), ours.AsSpan(image * featureSize, featureSize)))
            .ToArray();
        var relative = MaxAbsDifference(reference, ours) / reference.Max(Math.Abs);
        Console.WriteLine($"cosines {string.Join(", ", cosines.Select(c => c.ToString("F5")))}; relative max difference {relative:F4}");
        Assert.IsGreaterThan(0.998, cosines.Min(), $"cosines per photo: {string.Join(", ", cosines.Select(c => c.ToString("F5")))}");
        Assert.IsLessThan(0.1f, relative, $"max |ours - package| / max |feature| = {relative:g3}");
    }

    [TestMethod]
    public void Load_PackageOnnxWithFreshHead_BuildsFromDescribedSpecWithAnyClassCount()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 7, StageDepths: [2, 2, 2, 3]));
        using var fc = model.fc.weight!.clone();

        var header = ResNetWeights.Load(model, PackageOnnx, freshHead: true);

        Assert.IsNull(header);
        Assert.IsTrue(model.fc.weight!.eq(fc).all().item<bool>(), "the fresh head is kept");
        using var file = WeightsFile.Read(PackageOnnx);
        Assert.IsTrue(model.layer4.state_dict()["2.conv2.weight"].eq(file.Tensors["layer4.2.conv2.weight"]).all().item<bool>());
    }

    [TestMethod]
    public void Load_PackageOnnxWithoutFreshHead_ThrowsSayingTheFileHasNoHead()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 1000, StageDepths: [2, 2, 2, 3]));

        var error = Assert.ThrowsExactly<InvalidDataException>(() => ResNetWeights.Load(model, PackageOnnx));

        StringAssert.Contains(error.Message, "no classifier head");
        StringAssert.Contains(error.Message, PackageOnnx);
        StringAssert.Contains(error.Message, "fresh head");
    }

    [TestMethod]
    public void Load_PackageOnnxIntoTorchVisionResNet18_ThrowsNamingTheExtraBlock()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 10));

        var error = Assert.ThrowsExactly<InvalidDataException>(() => ResNetWeights.Load(model, PackageOnnx, freshHead: true));

        StringAssert.Contains(error.Message, "unexpected key 'layer4.2.conv1.weight'");
    }

    [TestMethod]
    [DataRow("resnet18", ResNetArchitecture.ResNet18)]
    [DataRow("resnet50", ResNetArchitecture.ResNet50)]
    public void Read_TorchVisionExportedOnnx_LogitsMatchPyTorch(string arch, ResNetArchitecture architecture)
    {
        var fixture = PythonReference.Get(arch, exportOnnx: true);
        using var file = WeightsFile.Read(fixture.OnnxPath);
        Assert.IsNotNull(file.DescribedSpec);
        Assert.AreEqual(new ResNetSpec(architecture, fixture.Outputs.Num_classes), file.DescribedSpec);
        Assert.IsNull(file.Normalization, "a torch.onnx export does not say how to normalize");
        using var model = new ResNetModel(file.DescribedSpec);

        ResNetWeights.Apply(model, file, freshHead: false);
        model.eval();
        var maxDifference = fixture.MaxLogitDifference(model);
        Assert.IsLessThanOrEqualTo(1e-4f, maxDifference, $"max |TorchSharp after ONNX import - PyTorch| on logits = {maxDifference}");
    }

    [TestMethod]
    public void Read_NonResNetGraph_ThrowsNamingFileAndNode()
    {
        var path = Path.Combine(Folder, "tiny.onnx");
        File.WriteAllBytes(path, TinyConvReluModel().ToByteArray());

        var error = Assert.ThrowsExactly<InvalidDataException>(() => WeightsFile.Read(path));

        StringAssert.Contains(error.Message, path);
        StringAssert.Contains(error.Message, "'tiny_conv' (Conv)");
        StringAssert.Contains(error.Message, "3->8 channels, 3x3 at stride 1");
        StringAssert.Contains(error.Message, "3->64, 7x7 at stride 2");
    }

    [TestMethod]
    public void Read_PackageGraphWithoutFinalPooling_ThrowsNamingWhatIsMissing()
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(PackageOnnx));
        var pool = model.Graph.Node.Single(n => n.OpType == "AveragePool");
        model.Graph.Node.Remove(pool);
        var path = Path.Combine(Folder, "no-pool.onnx");
        File.WriteAllBytes(path, model.ToByteArray());

        var error = Assert.ThrowsExactly<InvalidDataException>(() => WeightsFile.Read(path));

        StringAssert.Contains(error.Message, path);
        StringAssert.Contains(error.Message, "the final pooling");
        StringAssert.Contains(error.Message, "found nothing");
    }

    [TestMethod]
    public void Read_PackageGraphWithDilatedConvolution_ThrowsNamingTheNode()
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(PackageOnnx));
        var conv = model.Graph.Node.Where(n => n.OpType == "Conv").ElementAt(5);
        var dilations = conv.Attribute.Single(a => a.Name == "dilations");
        dilations.Ints.Clear();
        dilations.Ints.Add([2, 2]);
        var path = Path.Combine(Folder, "dilated.onnx");
        File.WriteAllBytes(path, model.ToByteArray());

        var error = Assert.ThrowsExactly<InvalidDataException>(() => WeightsFile.Read(path));

        StringAssert.Contains(error.Message, $"'{conv.Name}' (Conv) is grouped or dilated");
    }

    [TestMethod]
    public void Read_TruncatedOnnx_ThrowsNamingFileAndFormat()
    {
        var bytes = File.ReadAllBytes(PackageOnnx);
        var path = Path.Combine(Folder, "truncated.onnx");
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);

        var error = Assert.ThrowsExactly<InvalidDataException>(() => WeightsFile.Read(path));

        StringAssert.Contains(error.Message, path);
        StringAssert.Contains(error.Message, "ONNX");
    }

    private static ResNetModel ImportPackage(out ImageNormalization normalization)
    {
        using var file = WeightsFile.Read(PackageOnnx);
        normalization = file.Normalization!;
        var model = new ResNetModel(file.DescribedSpec! with { NumClasses = 10 });
        ResNetWeights.Apply(model, file, freshHead: true);
        model.eval();
        return model;
    }

    private static float[] OurFeatures(ResNetModel model, ImageNormalization normalization)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var mean = tensor(normalization.Mean).view(1, 3, 1, 1);
        var std = tensor(normalization.Std).view(1, 3, 1, 1);
        return model.Features((Photos - mean) / std).data<float>().ToArray();
    }

    private static float[] ForEachPhoto(Func<float[], float[]> run)
    {
        var all = Photos.data<float>().ToArray();
        var size = 3 * Side * Side;
        return Enumerable.Range(0, all.Length / size).SelectMany(i => run(all[(i * size)..((i + 1) * size)])).ToArray();
    }

    private static float[] ToBgrMinusMeans(float[] rgb, float[] meanBgr)
    {
        var plane = Side * Side;
        var bgr = new float[rgb.Length];
        for (var c = 0; c < 3; c++)
        {
            for (var i = 0; i < plane; i++)
            {
                bgr[(c * plane) + i] = (rgb[((2 - c) * plane) + i] * 255) - meanBgr[c];
            }
        }

        return bgr;
    }

    private static float[] RunPackageNetwork(InferenceSession session, float[] input)
    {
        using var runOptions = new RunOptions();
        using var value = OrtValue.CreateTensorValueFromMemory(input, [1, 3, Side, Side]);
        using var output = session.Run(runOptions, [PackageInput], [value], [PackageOutput]);
        return output[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double dot = 0, aa = 0, bb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            dot += a[i] * (double)b[i];
            aa += a[i] * (double)a[i];
            bb += b[i] * (double)b[i];
        }

        return dot / Math.Sqrt(aa * bb);
    }

    /// <summary>input [1,3,8,8] -> Conv 3->8 3x3 -> Relu: an ONNX model, but no ResNet.</summary>
    private static ModelProto TinyConvReluModel()
    {
        var weight = new TensorProto { Name = "w", DataType = (int)TensorProto.Types.DataType.Float };
        weight.Dims.Add([8, 3, 3, 3]);
        weight.FloatData.Add(Enumerable.Repeat(0.1f, 8 * 3 * 3 * 3));
        var conv = new NodeProto { Name = "tiny_conv", OpType = "Conv", Input = { "x", "w" }, Output = { "c" } };
        conv.Attribute.Add(new AttributeProto { Name = "kernel_shape", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 3, 3 } });
        conv.Attribute.Add(new AttributeProto { Name = "pads", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 1, 1, 1, 1 } });
        var graph = new GraphProto { Name = "tiny", Node = { conv, new NodeProto { Name = "tiny_relu", OpType = "Relu", Input = { "c" }, Output = { "y" } } } };
        graph.Initializer.Add(weight);
        graph.Input.Add(FloatInput("x", 1, 3, 8, 8));
        graph.Output.Add(FloatInput("y", 1, 8, 8, 8));
        var model = new ModelProto { IrVersion = 8, ProducerName = "tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = 17 });
        return model;
    }

    private static ValueInfoProto FloatInput(string name, params long[] dims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(dims.Select(d => new TensorShapeProto.Types.Dimension { DimValue = d }));
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }
}
