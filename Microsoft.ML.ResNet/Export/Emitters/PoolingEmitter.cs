using TorchSharp.Modules;

namespace Microsoft.ML.ResNet.Export.Emitters;

/// <summary>MaxPool2d, AvgPool2d and AdaptiveAvgPool2d (to 1x1, as GlobalAveragePool).</summary>
internal static class PoolingEmitter
{
    public static string EmitMaxPool(ModuleTreeWalker walker, MaxPool2d pool, string path, string input)
    {
        var kernel = Pair(pool.kernel_size, 1);
        var padding = Pair(pool.padding, 0);
        return walker.Graph.AddNode(
            "MaxPool",
            path,
            [input],
            OnnxGraphBuilder.Ints("kernel_shape", kernel),
            OnnxGraphBuilder.Ints("strides", Pair(pool.stride, kernel)),
            OnnxGraphBuilder.Ints("pads", [padding[0], padding[1], padding[0], padding[1]]),
            OnnxGraphBuilder.Ints("dilations", Pair(pool.dilation, 1)),
            OnnxGraphBuilder.Int("ceil_mode", pool.ceil_mode ? 1 : 0));
    }

    /// <exception cref="NotSupportedException">A divisor_override (ONNX has no such attribute).</exception>
    public static string EmitAveragePool(ModuleTreeWalker walker, AvgPool2d pool, string path, string input)
    {
        if (pool.divisor_override is not null)
        {
            throw ModuleTreeWalker.Unsupported(path, pool, $"divisor_override {pool.divisor_override}");
        }

        var kernel = Pair(pool.kernel_size, 1);
        var padding = Pair(pool.padding, 0);
        return walker.Graph.AddNode(
            "AveragePool",
            path,
            [input],
            OnnxGraphBuilder.Ints("kernel_shape", kernel),
            OnnxGraphBuilder.Ints("strides", Pair(pool.stride, kernel)),
            OnnxGraphBuilder.Ints("pads", [padding[0], padding[1], padding[0], padding[1]]),
            OnnxGraphBuilder.Int("ceil_mode", pool.ceil_mode ? 1 : 0),
            OnnxGraphBuilder.Int("count_include_pad", pool.count_include_pad ? 1 : 0));
    }

    /// <exception cref="NotSupportedException">An output size other than 1x1.</exception>
    public static string EmitAdaptiveAveragePool(ModuleTreeWalker walker, AdaptiveAvgPool2d pool, string path, string input)
    {
        var size = Pair(pool.output_size, 1);
        if (size[0] != 1 || size[1] != 1)
        {
            // Other sizes give input-size-dependent windows; ONNX has no adaptive pool.
            throw ModuleTreeWalker.Unsupported(path, pool, $"output size {size[0]}x{size[1]}; only 1x1 is");
        }

        return walker.Graph.AddNode("GlobalAveragePool", path, [input]);
    }

    /// <summary>TorchSharp keeps one value for both axes or one per axis; ONNX wants one per axis.</summary>
    internal static long[] Pair(long[]? values, long fallback) => Pair(values, [fallback, fallback]);

    private static long[] Pair(long[]? values, long[] fallback) => values switch
    {
        null or { Length: 0 } => fallback,
        { Length: 1 } => [values[0], values[0]],
        _ => [values[0], values[1]],
    };
}
