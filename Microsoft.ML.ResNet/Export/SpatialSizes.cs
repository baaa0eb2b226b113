using System.Text.Json;
using Onnx;

namespace Microsoft.ML.ResNet.Export;

/// <summary>
/// The height and width of a tensor inside a convolutional graph, worked out from the input's fixed size with ONNX's
/// own output-size rules for Conv and pooling (other nodes on the way keep their first input's size). The graphs do not
/// carry intermediate shapes, and running them only to learn one would cost a session.
/// </summary>
internal static class SpatialSizes
{
    /// <summary>Nodes whose output has the height and width of their first input.</summary>
    private static readonly HashSet<string> SizeKeeping = new(StringComparer.Ordinal)
    {
        "Relu", "Add", "Sub", "Div", "Mul", "BatchNormalization", "Identity", "Clip", "LeakyRelu", "Sigmoid",
        "QuantizeLinear", "DequantizeLinear",
    };

    /// <exception cref="InvalidOperationException">The input has no fixed size, or a node on the way to
    /// <paramref name="tensor"/> is one whose output size this does not know.</exception>
    public static (long Height, long Width) Of(ModelProto model, string tensor)
    {
        var graph = model.Graph;
        var initializers = graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var input = graph.Input.First(i => !initializers.Contains(i.Name));
        var sizes = new Dictionary<string, (long, long)>(StringComparer.Ordinal) { [input.Name] = InputSize(model, input) };
        foreach (var node in graph.Node)
        {
            if (node.Input.Count == 0 || !sizes.TryGetValue(node.Input[0], out var size))
            {
                continue;
            }

            (long, long)? result = node.OpType switch
            {
                "Conv" or "MaxPool" or "AveragePool" => Window(node, size),
                "GlobalAveragePool" or "GlobalMaxPool" => (1, 1),
                _ when SizeKeeping.Contains(node.OpType) => size,
                _ => null,
            };
            if (result is { } known)
            {
                sizes[node.Output[0]] = known;
            }
        }

        return sizes.TryGetValue(tensor, out var found)
            ? found
            : throw new InvalidOperationException(
                $"Cannot tell the height and width of '{tensor}' from the input '{input.Name}': a node on the way is not a convolution, a pool or an element-wise node.");
    }

    private static (long, long) InputSize(ModelProto model, ValueInfoProto input)
    {
        var dims = input.Type?.TensorType?.Shape?.Dim;
        if (dims is { Count: 4 } && dims[2].DimValue > 0 && dims[3].DimValue > 0)
        {
            return (dims[2].DimValue, dims[3].DimValue);
        }

        var recorded = model.MetadataProps.FirstOrDefault(p => p.Key == OnnxContract.Metadata.InputSize)?.Value;
        if (recorded is not null && JsonSerializer.Deserialize<long[]>(recorded) is [var height, var width])
        {
            return (height, width);
        }

        throw new InvalidOperationException(
            $"The input '{input.Name}' has no fixed height and width, and the model has no '{OnnxContract.Metadata.InputSize}' metadata.");
    }

    /// <summary>ONNX's rule: floor (or ceil with ceil_mode) of (in + pads - dilation * (kernel - 1) - 1) / stride, plus 1.</summary>
    private static (long, long) Window(NodeProto node, (long Height, long Width) input)
    {
        var kernel = Ints(node, "kernel_shape") ?? throw new InvalidOperationException($"{node.OpType} '{node.Name}' has no kernel_shape.");
        var strides = Ints(node, "strides") ?? [1, 1];
        var dilations = Ints(node, "dilations") ?? [1, 1];
        var pads = Ints(node, "pads") ?? [0, 0, 0, 0];
        var ceil = node.Attribute.FirstOrDefault(a => a.Name == "ceil_mode")?.I == 1;
        var autoPad = node.Attribute.FirstOrDefault(a => a.Name == "auto_pad")?.S.ToStringUtf8() ?? "NOTSET";
        long Side(int axis, long size)
        {
            if (autoPad is "SAME_UPPER" or "SAME_LOWER")
            {
                return (size + strides[axis] - 1) / strides[axis];
            }

            var padded = autoPad == "VALID" ? size : size + pads[axis] + pads[axis + 2];
            var span = padded - (dilations[axis] * (kernel[axis] - 1)) - 1;
            return (ceil ? (span + strides[axis] - 1) / strides[axis] : span / strides[axis]) + 1;
        }

        return (Side(0, input.Height), Side(1, input.Width));
    }

    private static long[]? Ints(NodeProto node, string name) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { Ints.Count: > 0 } attribute ? attribute.Ints.ToArray() : null;
}
