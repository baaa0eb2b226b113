using Google.Protobuf;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;
using Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Tests.Export;

/// <summary>
/// <see cref="OnnxContractGraph.Restore"/> on real exported graphs with additions of the kind a saved zip makes: the
/// additions go, the network computes what it computed, and a clean graph comes back untouched.
/// </summary>
[TestClass]
public sealed class OnnxContractGraphTests
{
    private const int Size = 32;
    private const string SavedKey = "resnetml.saved_scoring";
    private static readonly string[] Labels = ["a", "b"];

    [TestMethod]
    public void Restore_CleanExport_ReturnsTheSameBytes()
    {
        var onnx = Export();

        var restored = OnnxContractGraph.Restore(onnx, Labels, [SavedKey]);

        Assert.AreSame(onnx, restored);
    }

    [TestMethod]
    public void Restore_RenamedInputExtraOutputAndSettings_GivesTheExportersBytesBack()
    {
        var onnx = Export();
        var model = ModelProto.Parser.ParseFrom(onnx);
        RenameInput(model.Graph, "Pixels");
        var extraShape = new TensorProto { Name = "extra_shape", DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 1 }, Int64Data = { -1 } };
        model.Graph.Initializer.Add(extraShape);
        model.Graph.Node.Add(new NodeProto { Name = "extra", OpType = "Reshape", Input = { OnnxContract.ProbabilitiesOutput, "extra_shape" }, Output = { "extra" } });
        model.Graph.Output.Add(new ValueInfoProto { Name = "extra", Type = FloatVector(Labels.Length) });
        model.MetadataProps.Add(new StringStringEntryProto { Key = SavedKey, Value = "{}" });

        var restored = ModelProto.Parser.ParseFrom(OnnxContractGraph.Restore(model.ToByteArray(), Labels, [SavedKey]));

        Assert.AreEqual(OnnxContract.PixelsInput, restored.Graph.Input.Single().Name);
        CollectionAssert.AreEqual(
            new[] { OnnxContract.LogitsOutput, OnnxContract.ProbabilitiesOutput, OnnxContract.FeaturesOutput },
            restored.Graph.Output.Select(o => o.Name).ToArray());
        Assert.IsFalse(restored.Graph.Node.Any(n => n.Name == "extra"));
        Assert.IsFalse(restored.Graph.Initializer.Any(t => t.Name == "extra_shape"));
        Assert.IsFalse(restored.MetadataProps.Any(p => p.Key == SavedKey));
        CollectionAssert.AreEqual(onnx, restored.ToByteArray(), "the restored graph is the exporter's, byte for byte");
    }

    [TestMethod]
    public void Restore_OtherLabels_RecordedInTheMetadata()
    {
        var restored = ModelProto.Parser.ParseFrom(OnnxContractGraph.Restore(Export(), ["cat", "dog"], [SavedKey]));

        Assert.AreEqual("[\"cat\",\"dog\"]", restored.MetadataProps.Single(p => p.Key == OnnxContract.Metadata.Labels).Value);
    }

    [TestMethod]
    public void Restore_InnerTensorNamedPixels_ThrowsNamingBoth()
    {
        var model = ModelProto.Parser.ParseFrom(Export());
        RenameInput(model.Graph, "input");
        var first = model.Graph.Node[0];
        var inner = first.Output[0];
        first.Output[0] = OnnxContract.PixelsInput;
        foreach (var node in model.Graph.Node.Skip(1))
        {
            for (var i = 0; i < node.Input.Count; i++)
            {
                if (node.Input[i] == inner)
                {
                    node.Input[i] = OnnxContract.PixelsInput;
                }
            }
        }

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => OnnxContractGraph.Restore(model.ToByteArray(), Labels, [SavedKey]));

        StringAssert.Contains(error.Message, $"'{OnnxContract.PixelsInput}'");
        StringAssert.Contains(error.Message, "'input'");
    }

    private static byte[] Export()
    {
        manual_seed(3);
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, Labels.Length));
        return ResNetOnnxExporter.ToBytes(model, new OnnxExportOptions { Labels = Labels, InputHeight = Size, InputWidth = Size });
    }

    private static void RenameInput(GraphProto graph, string name)
    {
        var input = graph.Input.Single();
        foreach (var node in graph.Node)
        {
            for (var i = 0; i < node.Input.Count; i++)
            {
                if (node.Input[i] == input.Name)
                {
                    node.Input[i] = name;
                }
            }
        }

        input.Name = name;
    }

    private static TypeProto FloatVector(long width)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = width });
        return new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } };
    }
}
