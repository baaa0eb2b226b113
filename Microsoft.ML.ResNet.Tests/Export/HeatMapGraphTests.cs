using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Tests.Scoring;
using Onnx;
using static TorchSharp.torch;
using static Microsoft.ML.ResNet.Tests.Export.ExportFixtures;

namespace Microsoft.ML.ResNet.Tests.Export;

/// <summary>
/// The class activation maps: ONNX Runtime's <c>heatmaps</c> against the maps TorchSharp computes from the same weights
/// (the last stage's feature map, then fc.weight applied over channels), the identity mean(map) + bias = logit, and the
/// graph surgery on a model reopened from a zip, which has no weights.
/// </summary>
[TestClass]
public sealed class HeatMapGraphTests : TempFolderTest
{
    /// <summary>Relative to the largest |value| of the maps: float32 sums of 512 products in another order.</summary>
    private const float RelativeTolerance = 1e-4f;
    private const int Classes = 10;
    private static Tensor? _photos;

    private static Tensor Photos => _photos ??= LoadPhotos();

    [ClassCleanup]
    public static void DisposePhotos() => _photos?.Dispose();

    [TestMethod]
    [DataRow(ResNetArchitecture.ResNet18, ResNetVariant.TorchVision, 224, 224, 7, 7)]
    [DataRow(ResNetArchitecture.ResNet50, ResNetVariant.TorchVision, 96, 160, 3, 5)]
    [DataRow(ResNetArchitecture.ResNet18, ResNetVariant.ProjectionShortcuts, 224, 224, 7, 7)]
    public void ToBytes_IncludeHeatMaps_MapsMatchTorchSharpAndMeanPlusBiasIsTheLogit(
        ResNetArchitecture architecture, ResNetVariant variant, int height, int width, int mapHeight, int mapWidth)
    {
        using var model = CalibratedModel(architecture, Photos, Classes, variant);
        using var pixels = Batch(Photos, 3, height, width);
        var onnx = ResNetOnnxExporter.ToBytes(model, new OnnxExportOptions { InputHeight = height, InputWidth = width, IncludeHeatMaps = true });

        using var session = new InferenceSession(onnx);
        var declared = session.OutputMetadata[OnnxContract.HeatMapsOutput].Dimensions;
        var outputs = RunOnnx(session, pixels, OnnxContract.HeatMapsOutput, OnnxContract.LogitsOutput);

        CollectionAssert.AreEqual(new[] { -1, Classes, mapHeight, mapWidth }, declared, "declared [batch, classes, h, w]");
        var expected = TorchHeatMaps(model, pixels);
        AssertClose(expected, outputs[OnnxContract.HeatMapsOutput], "ONNX Runtime vs TorchSharp");
        AssertMeanIsLogit(outputs[OnnxContract.HeatMapsOutput], outputs[OnnxContract.LogitsOutput], Bias(model), mapHeight * mapWidth);
    }

    [TestMethod]
    public void ToBytes_IncludeHeatMaps_OtherOutputsAreUnchanged()
    {
        using var model = CalibratedModel(ResNetArchitecture.ResNet18, Photos, Classes);
        using var pixels = Batch(Photos, 2, 224, 224);
        string[] outputs = [OnnxContract.LogitsOutput, OnnxContract.ProbabilitiesOutput, OnnxContract.FeaturesOutput];

        var plain = RunOnnx(ResNetOnnxExporter.ToBytes(model, new OnnxExportOptions()), pixels, outputs);
        var withMaps = RunOnnx(ResNetOnnxExporter.ToBytes(model, new OnnxExportOptions { IncludeHeatMaps = true }), pixels, outputs);

        foreach (var output in outputs)
        {
            CollectionAssert.AreEqual(plain[output], withMaps[output], output);
        }
    }

    /// <summary>A model zip keeps no weights (HasWeights is false): the maps are grafted onto the graph it holds.</summary>
    [TestMethod]
    public void OnnxWithHeatMaps_TransformerFromSavedZip_MapsMatchTorchSharp()
    {
        using var model = CalibratedModel(ResNetArchitecture.ResNet18, Photos, Classes);
        var onnxPath = Path.Combine(Folder, "plain.onnx");
        File.WriteAllBytes(onnxPath, ResNetOnnxExporter.ToBytes(model, new OnnxExportOptions()));
        var ml = new MLContext(1);
        var pixels = ImagePipeline.PhotoPixels(ml, 224);
        var zip = Path.Combine(Folder, "model.zip");
        using (var fitted = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = onnxPath }).Fit(pixels))
        {
            ml.Model.Save(fitted, pixels.Schema, zip);
        }

        using var reopened = (ResNetClassifierTransformer)ResNetClassifierTransformer.Load(ml, zip);
        var onnx = reopened.OnnxWithHeatMaps();

        Assert.IsFalse(reopened.HasWeights);
        using var photos = Batch(Photos, 5, 224, 224);
        var outputs = RunOnnx(onnx, photos, OnnxContract.HeatMapsOutput, OnnxContract.LogitsOutput);
        AssertClose(TorchHeatMaps(model, photos), outputs[OnnxContract.HeatMapsOutput], "graph surgery on the zip's graph vs TorchSharp");
        AssertMeanIsLogit(outputs[OnnxContract.HeatMapsOutput], outputs[OnnxContract.LogitsOutput], Bias(model), 49);
        Assert.AreSame(onnx, HeatMapGraph.AddOutput(onnx), "a graph that has the maps is returned as it is");
    }

    [TestMethod]
    public void AddOutput_GraphWithoutClassifierHead_ThrowsNamingWhatItFound()
    {
        using var model = CalibratedModel(ResNetArchitecture.ResNet18, Photos, Classes);
        var proto = ModelProto.Parser.ParseFrom(ResNetOnnxExporter.ToBytes(model, new OnnxExportOptions()));
        var softmax = proto.Graph.Node.Single(n => n.OpType == "Softmax");
        softmax.OpType = "Sigmoid";

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => HeatMapGraph.AddOutput(proto.ToByteArray()));

        StringAssert.Contains(error.Message, "Softmax");
        StringAssert.Contains(error.Message, "Sigmoid");
    }

    [TestMethod]
    public void AddOutput_NotOnnx_ThrowsInvalidData()
    {
        var error = Assert.ThrowsExactly<InvalidDataException>(() => HeatMapGraph.AddOutput([1, 2, 3, 4, 5, 6, 7]));

        StringAssert.Contains(error.Message, "not an ONNX model");
    }

    /// <summary>TorchSharp's maps: the stem and four stages run as the network's forward runs them, then the einsum with fc.weight.</summary>
    private static float[] TorchHeatMaps(ResNetModel model, Tensor pixels)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = Normalize(pixels);
        x = model.maxpool.call(model.relu.call(model.bn1.call(model.conv1.call(x))));
        x = model.layer4.call(model.layer3.call(model.layer2.call(model.layer1.call(x))));
        return einsum("ck,nkhw->nchw", model.fc.weight!, x).contiguous().data<float>().ToArray();
    }

    private static float[] Bias(ResNetModel model) => model.fc.bias!.detach().data<float>().ToArray();

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        var scale = expected.Max(Math.Abs);
        Assert.IsGreaterThan(1e-3f, scale, "the maps are not all zero");
        var difference = MaxAbsDifference(expected, actual);
        Assert.IsLessThanOrEqualTo(RelativeTolerance * scale, difference, $"{what}: max |difference| {difference:g3}, max |map| {scale:g3}");
    }

    private static void AssertMeanIsLogit(float[] maps, float[] logits, float[] bias, int cells)
    {
        var rows = logits.Length / Classes;
        Assert.HasCount(rows * Classes * cells, maps);
        var scale = logits.Max(Math.Abs);
        for (var n = 0; n < rows; n++)
        {
            for (var c = 0; c < Classes; c++)
            {
                var mean = maps.AsSpan(((n * Classes) + c) * cells, cells).ToArray().Average(v => (double)v);
                var logit = logits[(n * Classes) + c];
                Assert.AreEqual(logit, mean + bias[c], RelativeTolerance * scale, $"row {n}, class {c}: mean(map) + bias vs logit");
            }
        }
    }
}
