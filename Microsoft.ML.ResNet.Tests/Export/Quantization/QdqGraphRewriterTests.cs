using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Export.Quantization;
using Microsoft.ML.ResNet.Modeling;
using Onnx;

namespace Microsoft.ML.ResNet.Tests.Export.Quantization;

/// <summary>
/// The graph contract of the INT8 file <see cref="QdqGraphRewriter"/> writes: Q/DQ on every activation between Conv, Add
/// and pooling (ONNX Runtime's placement), weights INT8 per output channel, the normalization and softmax FP32, and ONNX
/// Runtime turning it into integer kernels; on the classifier trained on the committed Fashion-MNIST split.
/// </summary>
[TestClass]
public sealed class QdqGraphRewriterTests : TempFolderTest
{
    [TestMethod]
    public void Rewrite_TrainedClassifier_QuantizesEveryActivationBetweenIntegerNodes()
    {
        var fixture = Int8Fixtures.Get();
        var fp32 = ModelProto.Parser.ParseFrom(File.ReadAllBytes(fixture.Fp32Path)).Graph;
        var graph = ModelProto.Parser.ParseFrom(File.ReadAllBytes(fixture.Int8Path)).Graph;
        var producer = graph.Node.SelectMany(n => n.Output.Select(o => (o, n))).ToDictionary(p => p.o, p => p.n);
        var consumers = graph.Node.SelectMany(n => n.Input.Select(i => (i, n))).ToLookup(p => p.i, p => p.n);
        var initializers = graph.Initializer.ToDictionary(t => t.Name);

        Assert.AreEqual(0, graph.Node.Count(n => n.OpType == "Relu"), "Every ReLU folds into the quantization of its Conv or Add.");
        Assert.AreEqual(fp32.Node.Count(n => n.OpType == "Conv"), graph.Node.Count(n => n.OpType == "Conv"));
        foreach (var node in graph.Node.Where(n => n.OpType is "Conv" or "Add" or "MaxPool" or "GlobalAveragePool" or "Gemm"))
        {
            var activations = node.OpType == "Add" ? node.Input.ToArray() : [node.Input[0]];
            foreach (var input in activations)
            {
                Assert.AreEqual("DequantizeLinear", producer[input].OpType, $"{node.Name} reads '{input}' from a DequantizeLinear.");
            }

            if (node.OpType != "Gemm")
            {
                var readers = consumers[node.Output[0]].ToArray();
                Assert.IsTrue(readers.Length == 1 && readers[0].OpType == "QuantizeLinear", $"{node.Name}'s output goes to one QuantizeLinear only.");
            }
        }

        foreach (var node in graph.Node.Where(n => n.OpType is "Conv" or "Gemm"))
        {
            var weights = producer[node.Input[1]];
            Assert.AreEqual("DequantizeLinear", weights.OpType);
            var quantized = initializers[weights.Input[0]];
            Assert.AreEqual((int)TensorProto.Types.DataType.Int8, quantized.DataType, $"{node.Name}: INT8 weights");
            Assert.AreEqual(quantized.Dims[0], initializers[weights.Input[1]].Dims.Single(), $"{node.Name}: one weight scale per output channel");
            Assert.IsTrue(initializers[weights.Input[2]].RawData.All(b => b == 0), $"{node.Name}: symmetric weights (zero point 0)");
            Assert.AreEqual((int)TensorProto.Types.DataType.Int32, initializers[producer[node.Input[2]].Input[0]].DataType, $"{node.Name}: INT32 bias");
        }

        var maxPool = graph.Node.Single(n => n.OpType == "MaxPool");
        var quantizeAfter = consumers[maxPool.Output[0]].Single();
        var before = producer[maxPool.Input[0]].Input.Skip(1).Select(name => initializers[name].RawData).ToArray();
        var after = quantizeAfter.Input.Skip(1).Select(name => initializers[name].RawData).ToArray();
        CollectionAssert.AreEqual(before, after, "MaxPool keeps its input's scale and zero point.");
        foreach (var q in graph.Node.Where(n => n.OpType == "QuantizeLinear"))
        {
            Assert.AreEqual((int)TensorProto.Types.DataType.Uint8, initializers[q.Input[2]].DataType, $"{q.Name}: UINT8 activations (ONNX Runtime's x86 U8S8 kernels)");
        }

        Assert.AreEqual("pixels", graph.Node.Single(n => n.OpType == "Sub").Input[0], "The normalization stays FP32, on the float input.");
        var softmax = graph.Node.Single(n => n.OpType == "Softmax");
        Assert.AreEqual("Gemm", producer[softmax.Input[0]].OpType, "Softmax stays FP32, on the Gemm's float logits.");
        CollectionAssert.AreEqual(fp32.Output.Select(o => o.Name).ToArray(), graph.Output.Select(o => o.Name).ToArray(), "The contract's outputs, unchanged.");
        var ratio = (double)new FileInfo(fixture.Int8Path).Length / new FileInfo(fixture.Fp32Path).Length;
        Assert.IsTrue(ratio < 0.27, $"The INT8 file is {ratio:P1} of the FP32 one; about a quarter is expected.");
    }

    /// <summary>The point of the QDQ form: ONNX Runtime's optimizer fuses it into integer kernels, leaving no float convolution.</summary>
    [TestMethod]
    public void OnnxRuntime_Int8Model_FusesIntoIntegerKernels()
    {
        var fixture = Int8Fixtures.Get();
        var optimized = Path.Combine(Folder, "optimized.onnx");

        // Extended level: the QDQ fusions, without the CPU-specific NCHWc layout that ENABLE_ALL adds on top.
        using (var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_EXTENDED, OptimizedModelFilePath = optimized })
        using (new InferenceSession(fixture.Int8Path, options))
        {
        }

        var nodes = ModelProto.Parser.ParseFrom(File.ReadAllBytes(optimized)).Graph.Node;
        var fp32 = ModelProto.Parser.ParseFrom(File.ReadAllBytes(fixture.Fp32Path)).Graph.Node;
        var ops = string.Join(", ", nodes.GroupBy(n => n.OpType).Select(g => $"{g.Key} {g.Count()}"));
        TestContext.WriteLine(ops);
        Assert.AreEqual(fp32.Count(n => n.OpType == "Conv"), nodes.Count(n => n.OpType == "QLinearConv"), ops);
        Assert.AreEqual(fp32.Count(n => n.OpType == "Add"), nodes.Count(n => n.OpType == "QLinearAdd"), ops);
        Assert.AreEqual(1, nodes.Count(n => n.OpType == "QGemm"), ops);
        Assert.AreEqual(0, nodes.Count(n => n.OpType is "Conv" or "FusedConv" or "Gemm" or "FusedGemm"), ops);
    }

    [TestMethod]
    public void OnnxChecker_Int8Model_PassesFullCheck()
    {
        PythonReference.CheckOnnx(Int8Fixtures.Get().Int8Path);
    }

    /// <summary>The heat-map output's Einsum reads the fc weights as floats: they stay, beside their INT8 copy.</summary>
    [TestMethod]
    public void SaveOnnxInt8_ModelWithHeatMaps_KeepsTheHeatMapsOutput()
    {
        var fixture = Int8Fixtures.Get();
        var fp32 = Path.Combine(Folder, "heatmaps.onnx");
        using (var network = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 10, StageDepths: [1, 1, 1, 1])))
        {
            ResNetOnnxExporter.Export(network, fp32, new OnnxExportOptions { InputHeight = Int8Fixtures.Size, InputWidth = Int8Fixtures.Size, IncludeHeatMaps = true });
        }

        var int8 = Path.Combine(Folder, "heatmaps.int8.onnx");
        using (var classifier = fixture.Ml.Transforms.ResNetClassify(new ResNetClassifierOptions { ModelPath = fp32, FeatureColumnName = "Features" }).Fit(fixture.Train))
        {
            classifier.SaveOnnx(int8, fixture.Train);
        }

        using var session = new InferenceSession(int8);
        using var runOptions = new RunOptions();
        using var input = OrtValue.CreateTensorValueFromMemory(new float[3 * Int8Fixtures.Size * Int8Fixtures.Size], [1, 3, Int8Fixtures.Size, Int8Fixtures.Size]);
        using var outputs = session.Run(runOptions, [OnnxContract.PixelsInput], [input], [OnnxContract.HeatMapsOutput]);
        Assert.AreEqual(10, outputs[0].GetTensorTypeAndShape().Shape[1], "heatmaps [N, K, h, w] still computed");
    }

    [TestMethod]
    public void Rewrite_QuantizedModel_Throws()
    {
        var int8 = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Int8Fixtures.Get().Int8Path));

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => QdqGraphRewriter.TensorsToCalibrate(int8));
        StringAssert.Contains(error.Message, "already quantized");
        StringAssert.Contains(error.Message, OnnxContract.Metadata.Quantization);
    }

    public TestContext TestContext { get; set; } = null!;
}
