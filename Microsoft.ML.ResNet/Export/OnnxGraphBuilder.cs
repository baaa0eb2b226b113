using Google.Protobuf;
using Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Export;

/// <summary>
/// Accumulates an ONNX graph: unique tensor and node names, float initializers, nodes, inputs and outputs.
/// Names derive from module paths ("layer1.0.conv1") so the graph reads like the state dict.
/// </summary>
internal sealed class OnnxGraphBuilder
{
    private readonly GraphProto _graph;
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    /// <param name="graphName">The graph's name.</param>
    /// <param name="reservedNames">Names the caller will assign later (the contract's outputs), so that
    /// no generated name takes them first.</param>
    public OnnxGraphBuilder(string graphName, IEnumerable<string> reservedNames)
    {
        _graph = new GraphProto { Name = graphName };
        foreach (var name in reservedNames)
        {
            _names.Add(name);
        }
    }

    /// <summary>Number of float values stored in initializers so far.</summary>
    public long InitializerValueCount { get; private set; }

    /// <summary>Returns <paramref name="hint"/>, or hint_1, hint_2, ... when taken; the name is then taken.</summary>
    public string UniqueName(string hint)
    {
        if (_names.Add(hint))
        {
            return hint;
        }

        for (var i = 1; ; i++)
        {
            var candidate = $"{hint}_{i}";
            if (_names.Add(candidate))
            {
                return candidate;
            }
        }
    }

    /// <summary>Declares a float graph input; a null dimension is the dynamic batch axis.</summary>
    public void AddInput(string name, params long?[] dimensions) => _graph.Input.Add(FloatValueInfo(name, dimensions));

    /// <summary>Declares a float graph output; a null dimension is the dynamic batch axis.</summary>
    public void AddOutput(string name, params long?[] dimensions) => _graph.Output.Add(FloatValueInfo(name, dimensions));

    /// <summary>Adds a float initializer from a TorchSharp tensor (any float dtype; stored as float32).</summary>
    public string AddInitializer(string hint, Tensor value)
    {
        using var scope = NewDisposeScope();
        var data = value.detach().to(ScalarType.Float32).cpu().contiguous();
        return AddInitializer(hint, data.bytes.ToArray(), data.shape);
    }

    /// <summary>Adds a float initializer with the given shape.</summary>
    public string AddInitializer(string hint, float[] values, params long[] dimensions)
    {
        var bytes = new byte[values.Length * sizeof(float)];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        return AddInitializer(hint, bytes, dimensions);
    }

    /// <summary>Adds a node with one output named after <paramref name="outputHint"/>; returns that name.</summary>
    public string AddNode(string opType, string outputHint, IReadOnlyList<string> inputs, params AttributeProto[] attributes)
    {
        var output = UniqueName(outputHint);
        AddNodeWithOutput(opType, output, inputs, attributes);
        return output;
    }

    /// <summary>Adds a node whose output name is already chosen (reserved or from <see cref="UniqueName"/>).</summary>
    public void AddNodeWithOutput(string opType, string output, IReadOnlyList<string> inputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = UniqueName($"{output}/{opType}") };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
    }

    public GraphProto Build() => _graph;

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Ints(string name, IEnumerable<long> values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    /// <summary>Adds a float initializer from little-endian float32 bytes the caller hands over (not copied).</summary>
    public string AddInitializer(string hint, byte[] littleEndianFloats, long[] dimensions)
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("ONNX raw_data is little-endian; big-endian hosts are not supported.");
        }

        var name = UniqueName(hint);
        var tensor = new TensorProto
        {
            Name = name,
            DataType = (int)TensorProto.Types.DataType.Float,

            // The array is ours alone, so protobuf may keep it without a copy.
            RawData = UnsafeByteOperations.UnsafeWrap(littleEndianFloats),
        };
        tensor.Dims.AddRange(dimensions);
        _graph.Initializer.Add(tensor);
        InitializerValueCount += littleEndianFloats.Length / sizeof(float);
        return name;
    }

    private static ValueInfoProto FloatValueInfo(string name, long?[] dimensions)
    {
        var shape = new TensorShapeProto();
        foreach (var dimension in dimensions)
        {
            shape.Dim.Add(dimension is { } value
                ? new TensorShapeProto.Types.Dimension { DimValue = value }
                : new TensorShapeProto.Types.Dimension { DimParam = OnnxContract.BatchDimension });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto
            {
                TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape },
            },
        };
    }
}
