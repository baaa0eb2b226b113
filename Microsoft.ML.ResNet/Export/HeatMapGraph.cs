using Google.Protobuf;
using Onnx;

namespace Microsoft.ML.ResNet.Export;

/// <summary>
/// Adds the class activation maps (Zhou et al., CVPR 2016) to a classifier graph as the output
/// <see cref="OnnxContract.HeatMapsOutput"/>, float [N, K, h, w]: heatmaps[n, c] = sum over k of W[c, k] * F[n, k, :, :],
/// where F is the last stage's feature map (what the global average pool reads) and W the fc weight. The head is that
/// pool then fc, so the mean of heatmaps[n, c] over h x w plus the fc bias b[c] is exactly logits[n, c].
/// </summary>
/// <remarks>
/// Works by graph surgery on any graph of the contract (the exporter's, or one a saved zip gave back, which has no
/// weights to export again): from the Softmax that makes <see cref="OnnxContract.ProbabilitiesOutput"/> back to the fc
/// (Gemm, or MatMul then Add) and its weight initializer, then through Flatten/Reshape/Squeeze to the pool. One Einsum
/// node is added; nothing else changes, so the other outputs stay bit for bit the same.
/// </remarks>
internal static class HeatMapGraph
{
    private static readonly HashSet<string> PassThrough = new(StringComparer.Ordinal) { "Flatten", "Reshape", "Squeeze" };

    /// <summary>The graph with the <see cref="OnnxContract.HeatMapsOutput"/> output added; <paramref name="onnx"/> itself
    /// when it has that output already.</summary>
    /// <exception cref="InvalidDataException">The bytes are not an ONNX model.</exception>
    /// <exception cref="InvalidOperationException">An inner tensor already has the output's name, or the head is not a
    /// global average pool followed by one linear layer; the message says what was found.</exception>
    public static byte[] AddOutput(byte[] onnx)
    {
        ArgumentNullException.ThrowIfNull(onnx);
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(onnx);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"The ONNX model bytes ({onnx.Length}) are not an ONNX model: {e.Message}", e);
        }

        if (model.Graph?.Output.Any(o => o.Name == OnnxContract.HeatMapsOutput) == true)
        {
            return onnx;
        }

        AddOutput(model);
        return model.ToByteArray();
    }

    /// <summary>Adds the <see cref="OnnxContract.HeatMapsOutput"/> output to <paramref name="model"/> in place.</summary>
    /// <param name="model">A classifier graph without the output.</param>
    /// <param name="nodeName">The Einsum node's name; null for the exporter's own. A caller that must find its addition
    /// again (a saved zip's graph, see PortableModelWriter) gives a name of its own.</param>
    /// <exception cref="InvalidOperationException">A tensor already has the output's name, or the head is not a global
    /// average pool followed by one linear layer; the message says what was found.</exception>
    public static void AddOutput(ModelProto model, string? nodeName = null)
    {
        var plan = Plan(model);
        var graph = model.Graph;
        if (AllNames(graph).Contains(OnnxContract.HeatMapsOutput))
        {
            throw new InvalidOperationException(
                $"The graph already has a tensor named '{OnnxContract.HeatMapsOutput}'; heat maps are added once, to a graph without them.");
        }

        var node = new NodeProto { OpType = "Einsum", Name = nodeName ?? $"{OnnxContract.HeatMapsOutput}/Einsum" };
        node.Input.Add(plan.Weight);
        node.Input.Add(plan.FeatureMap);
        node.Output.Add(OnnxContract.HeatMapsOutput);
        node.Attribute.Add(new AttributeProto { Name = "equation", Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(plan.Equation) });
        graph.Node.Add(node);
        graph.Output.Add(FloatOutput(OnnxContract.HeatMapsOutput, plan.Classes, plan.Height, plan.Width));
    }

    /// <summary>The height and width of the maps <see cref="AddOutput(byte[])"/> would add (the last stage's spatial size).</summary>
    /// <exception cref="InvalidOperationException">As for <see cref="AddOutput(ModelProto, string?)"/>.</exception>
    public static (int Height, int Width) MapSize(byte[] onnx)
    {
        var plan = Plan(ModelProto.Parser.ParseFrom(onnx));
        return ((int)plan.Height, (int)plan.Width);
    }

    /// <summary>Finds the fc weight and the feature map, and the maps' shape, without changing the graph.</summary>
    private static HeatMapPlan Plan(ModelProto model)
    {
        var graph = model.Graph ?? throw new InvalidOperationException("The ONNX model has no graph.");
        var producers = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var existing in graph.Node)
        {
            foreach (var output in existing.Output)
            {
                producers[output] = existing;
            }
        }

        var initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var softmax = Producer(producers, OnnxContract.ProbabilitiesOutput);
        if (softmax.OpType != "Softmax")
        {
            throw Unexpected($"'{OnnxContract.ProbabilitiesOutput}' made by a Softmax", softmax);
        }

        var (weight, equation, features) = FindLinear(producers, initializers, Producer(producers, softmax.Input[0]));
        var (featureMap, pool) = FindPool(producers, features);
        var (height, width) = SpatialSizes.Of(model, featureMap);
        if (pool.OpType == "AveragePool" && !CoversWholeMap(pool, height, width))
        {
            throw Unexpected($"an average pool over the whole {height}x{width} map", pool);
        }

        var classes = equation == EinsumWeightRowsAreClasses ? weight.Dims[0] : weight.Dims[1];
        return new HeatMapPlan(weight.Name, equation, featureMap, classes, height, width);
    }

    private sealed record HeatMapPlan(string Weight, string Equation, string FeatureMap, long Classes, long Height, long Width);

    private const string EinsumWeightRowsAreClasses = "ck,nkhw->nchw";
    private const string EinsumWeightColumnsAreClasses = "kc,nkhw->nchw";

    /// <summary>The fc weight, the Einsum equation that reads it as [classes, channels], and the fc's input.</summary>
    private static (TensorProto Weight, string Equation, string Input) FindLinear(
        Dictionary<string, NodeProto> producers, Dictionary<string, TensorProto> initializers, NodeProto logits)
    {
        switch (logits.OpType)
        {
            case "Gemm":
                if (Attribute(logits, "transA", 0) != 0 || AttributeFloat(logits, "alpha", 1f) != 1f)
                {
                    throw Unexpected("a Gemm with transA = 0 and alpha = 1 as the fc", logits);
                }

                var gemmWeight = Weight(initializers, logits, 1);
                return (gemmWeight, Attribute(logits, "transB", 0) == 1 ? EinsumWeightRowsAreClasses : EinsumWeightColumnsAreClasses, logits.Input[0]);
            case "Add":
                var matMul = logits.Input.Where(producers.ContainsKey).Select(name => producers[name]).FirstOrDefault(n => n.OpType == "MatMul")
                    ?? throw Unexpected("a MatMul then Add (or a Gemm) as the fc", logits);
                return (Weight(initializers, matMul, 1), EinsumWeightColumnsAreClasses, matMul.Input[0]);
            case "MatMul":
                return (Weight(initializers, logits, 1), EinsumWeightColumnsAreClasses, logits.Input[0]);
            default:
                throw Unexpected("a Gemm or MatMul (the fc) feeding the Softmax", logits);
        }
    }

    /// <summary>Walks from the fc's input through reshapes to the global pool; returns the pool's input and the pool.</summary>
    private static (string FeatureMap, NodeProto Pool) FindPool(Dictionary<string, NodeProto> producers, string features)
    {
        var node = Producer(producers, features);
        while (PassThrough.Contains(node.OpType))
        {
            node = Producer(producers, node.Input[0]);
        }

        var isPool = node.OpType is "GlobalAveragePool" or "AveragePool"
            || (node.OpType == "ReduceMean" && node.Attribute.FirstOrDefault(a => a.Name == "axes") is { } axes && axes.Ints.OrderBy(a => a).SequenceEqual([2L, 3L]));
        return isPool ? (node.Input[0], node) : throw Unexpected("a global average pool in front of the fc", node);
    }

    private static bool CoversWholeMap(NodeProto pool, long height, long width)
    {
        var kernel = pool.Attribute.FirstOrDefault(a => a.Name == "kernel_shape")?.Ints;
        var pads = pool.Attribute.FirstOrDefault(a => a.Name == "pads")?.Ints;
        return kernel is { Count: 2 } && kernel[0] == height && kernel[1] == width && (pads is null || pads.All(p => p == 0));
    }

    private static TensorProto Weight(Dictionary<string, TensorProto> initializers, NodeProto node, int index)
    {
        if (node.Input.Count <= index || !initializers.TryGetValue(node.Input[index], out var weight))
        {
            throw Unexpected("the fc weight as an initializer", node);
        }

        if (weight.Dims.Count != 2 || weight.DataType != (int)TensorProto.Types.DataType.Float)
        {
            throw new InvalidOperationException(
                $"The fc weight '{weight.Name}' should be a float matrix; it is {(TensorProto.Types.DataType)weight.DataType} [{string.Join(", ", weight.Dims)}].");
        }

        return weight;
    }

    private static NodeProto Producer(Dictionary<string, NodeProto> producers, string tensor) =>
        producers.TryGetValue(tensor, out var node)
            ? node
            : throw new InvalidOperationException($"Cannot add heat maps: no node makes '{tensor}' (a graph input or initializer, or a graph without '{OnnxContract.ProbabilitiesOutput}').");

    private static InvalidOperationException Unexpected(string expected, NodeProto found) =>
        new($"Cannot add heat maps: expected {expected}, found {found.OpType} '{found.Name}' (inputs {string.Join(", ", found.Input)}). "
            + "Class activation maps need a ResNet head: global average pool, flatten, one linear layer, softmax.");

    private static long Attribute(NodeProto node, string name, long fallback) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } attribute ? attribute.I : fallback;

    private static float AttributeFloat(NodeProto node, string name, float fallback) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } attribute ? attribute.F : fallback;

    private static HashSet<string> AllNames(GraphProto graph) =>
        graph.Node.SelectMany(n => n.Output)
            .Concat(graph.Initializer.Select(t => t.Name))
            .Concat(graph.Input.Select(i => i.Name))
            .Concat(graph.Output.Select(o => o.Name))
            .ToHashSet(StringComparer.Ordinal);

    private static ValueInfoProto FloatOutput(string name, long classes, long height, long width)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = OnnxContract.BatchDimension });
        foreach (var size in new[] { classes, height, width })
        {
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = size });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }
}
