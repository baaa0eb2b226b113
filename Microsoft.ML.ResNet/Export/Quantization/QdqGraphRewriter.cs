using Google.Protobuf;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Microsoft.ML.ResNet.Export.Quantization;

/// <summary>
/// Rewrites an FP32 classifier graph into the QDQ form ONNX Runtime fuses into integer kernels (QLinearConv, QLinearAdd,
/// QLinearGlobalAveragePool, QGemm, UINT8 MaxPool): a QuantizeLinear/DequantizeLinear pair on every activation tensor that
/// enters or leaves a Conv, Gemm, Add or pooling node, weights and biases stored quantized behind a DequantizeLinear. This
/// is where ONNX Runtime's own quantizer places them; pairs only in front of convolutions leave float outputs, nothing
/// fuses, and the model runs slower than FP32 (docs/DESIGN: 2x slower, against 2.5-3x faster this way). Pure graph work:
/// the activation ranges come from calibration (Scoring's ActivationCalibrator).
/// </summary>
/// <remarks>
/// A ReLU right after a Conv or Add (its only consumer) is dropped, as ONNX Runtime's quantizer does: the tensor is
/// quantized over the ReLU's range, whose zero point 0 clips negatives exactly as the ReLU would. MaxPool keeps its
/// input's scale so it runs on the UINT8 values. The input normalization (Sub, Div) and the Softmax stay FP32, and the
/// Gemm's output (the logits) stays float: QGemm writes float directly.
/// </remarks>
internal static class QdqGraphRewriter
{
    private const string QuantizedSuffix = "_quantized";
    private const string DequantizedSuffix = "_dequantized";

    /// <summary>Quantize/Dequantize per axis came with opset 13.</summary>
    private const long MinimumOpset = 13;

    private static readonly HashSet<string> PoolOps = new(StringComparer.Ordinal) { "MaxPool", "AveragePool", "GlobalAveragePool" };

    /// <summary>The FP32 tensors whose ranges calibration must measure, in graph order.</summary>
    /// <exception cref="InvalidOperationException">The model is already quantized, or its opset is below 13.</exception>
    public static IReadOnlyList<string> TensorsToCalibrate(ModelProto model) => new Plan(model).Calibrated;

    /// <summary>The quantized model: a new <see cref="ModelProto"/>; <paramref name="model"/> is not changed.</summary>
    /// <param name="model">The FP32 model.</param>
    /// <param name="ranges">A range for every tensor of <see cref="TensorsToCalibrate"/>.</param>
    /// <param name="description">The <see cref="OnnxContract.Metadata.Quantization"/> value.</param>
    /// <exception cref="InvalidOperationException">The model is already quantized; a range is missing.</exception>
    /// <exception cref="ArgumentException">A range is a single value or not finite (names the tensor).</exception>
    public static ModelProto Rewrite(ModelProto model, IReadOnlyDictionary<string, ActivationRange> ranges, string description)
    {
        var quantized = model.Clone();
        var plan = new Plan(quantized);
        var graph = quantized.Graph;
        var names = new NameSet(graph);
        var parameters = new Dictionary<string, (float Scale, byte ZeroPoint)>(StringComparer.Ordinal);
        foreach (var tensor in plan.Calibrated)
        {
            if (!ranges.TryGetValue(tensor, out var range))
            {
                throw new InvalidOperationException($"No calibrated range for activation '{tensor}'.");
            }

            try
            {
                parameters[tensor] = range.ToUInt8();
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"Activation '{tensor}': {e.Message}", nameof(ranges), e);
            }
        }

        // MaxPool passes values through unchanged: its output shares its input's scale, so it runs on UINT8 as is.
        foreach (var (output, input) in plan.SharedRanges)
        {
            parameters[output] = parameters[input];
        }

        var nodes = graph.Node.Where(n => !plan.FoldedRelus.Contains(n)).ToList();
        foreach (var relu in plan.FoldedRelus)
        {
            plan.Producer[relu.Input[0]].Output[0] = relu.Output[0];
        }

        var weightNodes = new List<NodeProto>();
        foreach (var node in nodes.Where(plan.IsInteger))
        {
            if (node.OpType is "Conv" or "Gemm")
            {
                QuantizeWeights(graph, node, parameters[node.Input[0]].Scale, names, weightNodes);
            }
        }

        var rewired = new List<NodeProto>(weightNodes);
        var dequantized = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var node in nodes)
        {
            for (var i = 0; i < node.Input.Count; i++)
            {
                if (dequantized.TryGetValue(node.Input[i], out var replacement))
                {
                    node.Input[i] = replacement;
                }
            }

            rewired.Add(node);
            foreach (var output in node.Output.Where(parameters.ContainsKey))
            {
                var (scale, zeroPoint) = parameters[output];
                var scaleName = AddInitializer(graph, names, $"{output}_scale", DataType.Float, new[] { scale });
                var zeroName = AddInitializer(graph, names, $"{output}_zero_point", DataType.Uint8, new[] { zeroPoint });
                var q = names.Take(output + QuantizedSuffix);
                var dq = names.Take(output + DequantizedSuffix);
                rewired.Add(Node("QuantizeLinear", names, [output, scaleName, zeroName], q));
                rewired.Add(Node("DequantizeLinear", names, [q, scaleName, zeroName], dq));
                dequantized[output] = dq;
            }
        }

        graph.Node.Clear();
        graph.Node.AddRange(rewired);
        quantized.MetadataProps.Add(new StringStringEntryProto { Key = OnnxContract.Metadata.Quantization, Value = description });
        return quantized;
    }

    /// <summary>Null for an FP32 model, else what says it is quantized.</summary>
    public static string? QuantizedBy(ModelProto model) =>
        model.MetadataProps.FirstOrDefault(p => p.Key == OnnxContract.Metadata.Quantization) is { } entry
            ? $"its metadata '{entry.Key}' is '{entry.Value}'"
            : model.Graph.Node.FirstOrDefault(n => n.OpType is "QuantizeLinear" or "DequantizeLinear" || n.OpType.StartsWith("QLinear", StringComparison.Ordinal)) is { } node
                ? $"it has a {node.OpType} node ('{node.Name}')"
                : null;

    private static void QuantizeWeights(GraphProto graph, NodeProto node, float inputScale, NameSet names, List<NodeProto> weightNodes)
    {
        var weight = graph.Initializer.Single(t => t.Name == node.Input[1]);
        var axis = node.OpType == "Gemm" && Attribute(node, "transB") != 1 ? 1 : 0;
        var (scales, values) = WeightQuantizer.PerChannel(WeightQuantizer.Floats(weight), weight.Dims, axis);
        node.Input[1] = Dequantize(graph, names, weightNodes, weight.Name, DataType.Int8, values, weight.Dims.ToArray(), scales, new sbyte[scales.Length], axis);
        RemoveIfUnread(graph, weight);
        if (node.Input.Count > 2 && node.Input[2].Length > 0)
        {
            var bias = graph.Initializer.Single(t => t.Name == node.Input[2]);
            var (biasScales, biasValues) = WeightQuantizer.Bias(WeightQuantizer.Floats(bias), inputScale, scales, bias.Name);
            node.Input[2] = Dequantize(graph, names, weightNodes, bias.Name, DataType.Int32, biasValues, bias.Dims.ToArray(), biasScales, new int[biasScales.Length], axis: 0);
            RemoveIfUnread(graph, bias);
        }
    }

    /// <summary>Drops the float initializer unless another node still reads it (the heat-map Einsum reads the fc weights).</summary>
    private static void RemoveIfUnread(GraphProto graph, TensorProto initializer)
    {
        if (!graph.Node.Any(n => n.Input.Contains(initializer.Name)))
        {
            graph.Initializer.Remove(initializer);
        }
    }

    private static string Dequantize<T>(GraphProto graph, NameSet names, List<NodeProto> nodes, string name, DataType type, T[] values, long[] dims, float[] scales, T[] zeroPoints, int axis)
        where T : struct
    {
        var quantized = AddInitializer(graph, names, name + QuantizedSuffix, type, values, dims);
        var scale = AddInitializer(graph, names, $"{name}_scale", DataType.Float, scales, scales.Length);
        var zeroPoint = AddInitializer(graph, names, $"{name}_zero_point", type, zeroPoints, zeroPoints.Length);
        var output = names.Take(name + DequantizedSuffix);
        var node = Node("DequantizeLinear", names, [quantized, scale, zeroPoint], output);
        node.Attribute.Add(OnnxGraphBuilder.Int("axis", axis));
        nodes.Add(node);
        return output;
    }

    private static string AddInitializer<T>(GraphProto graph, NameSet names, string hint, DataType type, T[] values, params long[] dims)
        where T : struct
    {
        var name = names.Take(hint);
        graph.Initializer.Add(WeightQuantizer.Tensor(name, type, values, dims));
        return name;
    }

    private static NodeProto Node(string opType, NameSet names, string[] inputs, string output)
    {
        var node = new NodeProto { OpType = opType, Name = names.Take($"{output}/{opType}") };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        return node;
    }

    private static long? Attribute(NodeProto node, string name) => node.Attribute.FirstOrDefault(a => a.Name == name)?.I;

    private static float? FloatAttribute(NodeProto node, string name) => node.Attribute.FirstOrDefault(a => a.Name == name)?.F;

    /// <summary>Which nodes run in integers, which ReLUs fold away, which tensors need a measured range.</summary>
    private sealed class Plan
    {
        private readonly HashSet<string> _initializers;
        // By reference: protobuf messages compare by value, and folding a ReLU changes its producer's value.
        private readonly HashSet<NodeProto> _integer = new(ReferenceEqualityComparer.Instance);

        public Plan(ModelProto model)
        {
            if (QuantizedBy(model) is { } reason)
            {
                throw new InvalidOperationException($"The model is already quantized ({reason}): quantize the FP32 model it came from.");
            }

            var opset = model.OpsetImport.FirstOrDefault(o => o.Domain.Length == 0)?.Version ?? 0;
            if (opset < MinimumOpset)
            {
                throw new InvalidOperationException($"The model is opset {opset}; per-channel quantization needs opset {MinimumOpset} or later. Re-export it with this library (opset {OnnxContract.Opset}).");
            }

            var graph = model.Graph;
            _initializers = graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
            var outputs = graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
            var consumers = graph.Node.SelectMany(n => n.Input.Select(i => (Input: i, Node: n))).ToLookup(p => p.Input, p => p.Node, StringComparer.Ordinal);
            foreach (var node in graph.Node)
            {
                foreach (var output in node.Output)
                {
                    Producer[output] = node;
                }

                if (Runs8Bit(node))
                {
                    _integer.Add(node);
                }
            }

            foreach (var relu in graph.Node.Where(n => n.OpType == "Relu"))
            {
                var input = relu.Input[0];
                if (Producer.TryGetValue(input, out var producer) && _integer.Contains(producer) && producer.OpType is "Conv" or "Add"
                    && consumers[input].Count() == 1 && !outputs.Contains(input))
                {
                    FoldedRelus.Add(relu);
                }
            }

            var calibrated = new List<string>();
            foreach (var node in graph.Node.Where(n => !FoldedRelus.Contains(n)))
            {
                if (!_integer.Contains(node))
                {
                    continue;
                }

                // Conv and Gemm read their weights and bias from initializers; only their first input is an activation.
                foreach (var input in node.OpType == "Add" ? node.Input.ToList() : [node.Input[0]])
                {
                    var source = SourceOf(input);
                    if (!calibrated.Contains(source))
                    {
                        calibrated.Add(source);
                    }
                }

                if (node.OpType == "Gemm")
                {
                    continue;
                }

                var output = FoldedOutput(node);
                if (node.OpType == "MaxPool")
                {
                    SharedRanges[output] = SourceOf(node.Input[0]);
                }
                else if (!calibrated.Contains(output))
                {
                    calibrated.Add(output);
                }
            }

            Calibrated = calibrated;
        }

        public Dictionary<string, NodeProto> Producer { get; } = new(StringComparer.Ordinal);

        public HashSet<NodeProto> FoldedRelus { get; } = new(ReferenceEqualityComparer.Instance);

        /// <summary>Output tensor -> the tensor whose range it takes.</summary>
        public Dictionary<string, string> SharedRanges { get; } = new(StringComparer.Ordinal);

        public IReadOnlyList<string> Calibrated { get; }

        public bool IsInteger(NodeProto node) => _integer.Contains(node);

        /// <summary>A tensor's name once the ReLU after its producer is folded (the ReLU's output name).</summary>
        private string FoldedOutput(NodeProto node) =>
            FoldedRelus.FirstOrDefault(r => r.Input[0] == node.Output[0]) is { } relu ? relu.Output[0] : node.Output[0];

        /// <summary>The tensor whose range <paramref name="tensor"/> has: its own, or a MaxPool input's.</summary>
        private string SourceOf(string tensor) => SharedRanges.TryGetValue(tensor, out var source) ? source : tensor;

        private bool Runs8Bit(NodeProto node) => node.OpType switch
        {
            "Conv" => node.Input.Count >= 2 && _initializers.Contains(node.Input[1]) && !_initializers.Contains(node.Input[0])
                && (node.Input.Count < 3 || node.Input[2].Length == 0 || _initializers.Contains(node.Input[2])),
            "Gemm" => node.Input.Count >= 2 && _initializers.Contains(node.Input[1]) && !_initializers.Contains(node.Input[0])
                && Attribute(node, "transA") is null or 0 && FloatAttribute(node, "alpha") is null or 1f && FloatAttribute(node, "beta") is null or 1f
                && (node.Input.Count < 3 || node.Input[2].Length == 0 || _initializers.Contains(node.Input[2])),
            "Add" => node.Input.Count == 2 && node.Input.All(i => !_initializers.Contains(i)),
            _ => PoolOps.Contains(node.OpType),
        };
    }

    /// <summary>Every name in the graph, so added tensors and nodes never collide with one.</summary>
    private sealed class NameSet
    {
        private readonly HashSet<string> _names;

        public NameSet(GraphProto graph)
        {
            _names = graph.Node.SelectMany(n => n.Input.Concat(n.Output).Append(n.Name))
                .Concat(graph.Initializer.Select(t => t.Name))
                .Concat(graph.Input.Select(i => i.Name))
                .Concat(graph.Output.Select(o => o.Name))
                .ToHashSet(StringComparer.Ordinal);
        }

        public string Take(string hint)
        {
            var name = hint;
            for (var i = 1; !_names.Add(name); i++)
            {
                name = $"{hint}_{i}";
            }

            return name;
        }
    }
}
