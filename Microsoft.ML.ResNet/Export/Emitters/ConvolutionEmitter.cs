using System.Runtime.InteropServices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Export.Emitters;

/// <summary>Conv2d, with the BatchNorm2d that follows it folded into its weight and bias.</summary>
internal static class ConvolutionEmitter
{
    /// <summary>Emits the <paramref name="convolutionName"/>/<paramref name="batchNormName"/> pair of a block or root.</summary>
    public static string EmitFolded(ModuleTreeWalker walker, ModuleChildren children, string convolutionName, string batchNormName, string input) =>
        Emit(
            walker,
            children.Required<Conv2d>(convolutionName),
            children.PathOf(convolutionName),
            children.Required<BatchNorm2d>(batchNormName),
            children.PathOf(batchNormName),
            input);

    /// <exception cref="NotSupportedException">Padding other than zeros/explicit, or a BatchNorm without running statistics.</exception>
    public static string Emit(ModuleTreeWalker walker, Conv2d convolution, string path, BatchNorm2d? batchNorm, string? batchNormPath, string input)
    {
        if (convolution.padding_mode != PaddingModes.Zeros)
        {
            throw ModuleTreeWalker.Unsupported(path, convolution, $"padding_mode {convolution.padding_mode}; only zero padding is");
        }

        if (convolution.padding_type == Padding.Same)
        {
            throw ModuleTreeWalker.Unsupported(path, convolution, "padding 'same'; give the padding explicitly");
        }

        var (weightName, biasName) = AddParameters(walker.Graph, convolution, path, batchNorm, batchNormPath);
        var kernel = PoolingEmitter.Pair(convolution.kernel_size, 1);
        var padding = PoolingEmitter.Pair(convolution.padding, 0);
        return walker.Graph.AddNode(
            "Conv",
            batchNormPath ?? path,
            biasName is null ? [input, weightName] : [input, weightName, biasName],
            OnnxGraphBuilder.Ints("kernel_shape", kernel),
            OnnxGraphBuilder.Ints("strides", PoolingEmitter.Pair(convolution.stride, 1)),
            OnnxGraphBuilder.Ints("pads", [padding[0], padding[1], padding[0], padding[1]]),
            OnnxGraphBuilder.Ints("dilations", PoolingEmitter.Pair(convolution.dilation, 1)),
            OnnxGraphBuilder.Int("group", convolution.groups));
    }

    private static (string Weight, string? Bias) AddParameters(
        OnnxGraphBuilder graph, Conv2d convolution, string path, BatchNorm2d? batchNorm, string? batchNormPath)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var weight = convolution.weight!.detach().to(ScalarType.Float32).cpu().contiguous();
        var outChannels = (int)weight.shape[0];
        if (batchNorm is null)
        {
            var biasName = convolution.bias is null ? null : graph.AddInitializer($"{path}.bias", convolution.bias);
            return (graph.AddInitializer($"{path}.weight", weight), biasName);
        }

        // Eval semantics whatever the module's mode: running statistics, never batch statistics.
        if (batchNorm.running_mean is null || batchNorm.running_var is null)
        {
            throw ModuleTreeWalker.Unsupported(batchNormPath!, batchNorm, "no running statistics (track_running_stats=false) to fold");
        }

        if (batchNorm.num_features != outChannels)
        {
            throw new InvalidOperationException(
                $"{batchNormPath}: BatchNorm2d has {batchNorm.num_features} features but {path} outputs {outChannels} channels.");
        }

        var bias = convolution.bias is null ? null : Doubles(convolution.bias);
        var mean = Doubles(batchNorm.running_mean);
        var variance = Doubles(batchNorm.running_var);
        var gamma = batchNorm.weight is null ? null : Doubles(batchNorm.weight);
        var beta = batchNorm.bias is null ? null : Doubles(batchNorm.bias);
        var scale = new double[outChannels];
        var foldedBias = new float[outChannels];
        for (var o = 0; o < outChannels; o++)
        {
            scale[o] = (gamma?[o] ?? 1.0) / Math.Sqrt(variance[o] + batchNorm.eps);
            foldedBias[o] = (float)((beta?[o] ?? 0.0) + (((bias?[o] ?? 0.0) - mean[o]) * scale[o]));
        }

        // Straight from libtorch's buffer into the initializer's bytes: one pass, no double-sized
        // temporaries, and each product is formed in double and rounded to float32 once.
        var source = MemoryMarshal.Cast<byte, float>(weight.bytes);
        var folded = new byte[source.Length * sizeof(float)];
        var target = MemoryMarshal.Cast<byte, float>(folded.AsSpan());
        var perChannel = source.Length / outChannels;
        for (var o = 0; o < outChannels; o++)
        {
            var channelScale = scale[o];
            var offset = o * perChannel;
            for (var i = offset; i < offset + perChannel; i++)
            {
                target[i] = (float)(source[i] * channelScale);
            }
        }

        var weightName = graph.AddInitializer($"{path}.weight", folded, weight.shape);
        return (weightName, graph.AddInitializer($"{path}.bias", foldedBias, outChannels));
    }

    private static double[] Doubles(Tensor values) => values.detach().to(ScalarType.Float64).cpu().data<double>().ToArray();
}
