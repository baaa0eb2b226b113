using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace Microsoft.ML.ResNet.Export.Quantization;

/// <summary>
/// Weights as ONNX Runtime's integer convolutions and matrix products take them: symmetric INT8 per output channel
/// (zero point 0, so no correction term for the weights' offset), and the bias as INT32 in the accumulator's scale
/// (input scale x weight scale of its channel), which QLinearConv and QGemm add before requantizing.
/// </summary>
internal static class WeightQuantizer
{
    /// <summary>[-127, 127]: symmetric, so -128 never appears and the range is the same on both sides.</summary>
    private const int WeightLimit = sbyte.MaxValue;

    /// <summary>The float values of a float initializer, whether stored as raw_data or float_data.</summary>
    public static float[] Floats(TensorProto tensor)
    {
        if (tensor.DataType != (int)TensorProto.Types.DataType.Float)
        {
            throw new NotSupportedException($"Initializer '{tensor.Name}' is of ONNX type {tensor.DataType}, not float: only float weights can be quantized.");
        }

        return tensor.RawData.IsEmpty ? tensor.FloatData.ToArray() : MemoryMarshal.Cast<byte, float>(tensor.RawData.Span).ToArray();
    }

    /// <summary>Per-channel scales along <paramref name="axis"/> and the INT8 weights.</summary>
    public static (float[] Scales, sbyte[] Values) PerChannel(float[] weights, IReadOnlyList<long> dims, int axis)
    {
        var channels = (int)dims[axis];
        var inner = 1L;
        for (var d = axis + 1; d < dims.Count; d++)
        {
            inner *= dims[d];
        }

        var maxAbs = new float[channels];
        for (var i = 0; i < weights.Length; i++)
        {
            var c = (int)(i / inner % channels);
            maxAbs[c] = Math.Max(maxAbs[c], Math.Abs(weights[i]));
        }

        // An all-zero channel quantizes to zeros with any scale; 1 keeps the bias scale of that channel non-zero.
        var scales = maxAbs.Select(m => m > 0 ? m / WeightLimit : 1f).ToArray();
        var values = new sbyte[weights.Length];
        for (var i = 0; i < weights.Length; i++)
        {
            var c = (int)(i / inner % channels);
            values[i] = (sbyte)Math.Clamp(MathF.Round(weights[i] / scales[c]), -WeightLimit, WeightLimit);
        }

        return (scales, values);
    }

    /// <summary>The bias in INT32 with scale inputScale x weightScales[c]; returns those scales too.</summary>
    /// <exception cref="InvalidOperationException">A bias value does not fit in INT32 at that scale (named by <paramref name="name"/>).</exception>
    public static (float[] Scales, int[] Values) Bias(float[] bias, float inputScale, float[] weightScales, string name)
    {
        var scales = weightScales.Select(s => inputScale * s).ToArray();
        var values = new int[bias.Length];
        for (var c = 0; c < bias.Length; c++)
        {
            var q = Math.Round((double)bias[c] / scales[c]);
            if (!(Math.Abs(q) <= int.MaxValue))
            {
                throw new InvalidOperationException(
                    $"The bias of '{name}' channel {c} ({bias[c]}) does not fit in INT32 at scale {scales[c]} (input scale x weight scale): the weights or the calibrated input range are degenerate.");
            }

            values[c] = (int)q;
        }

        return (scales, values);
    }

    public static TensorProto Tensor<T>(string name, TensorProto.Types.DataType type, T[] values, params long[] dims)
        where T : struct
    {
        var tensor = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan())) };
        tensor.Dims.AddRange(dims);
        return tensor;
    }
}
