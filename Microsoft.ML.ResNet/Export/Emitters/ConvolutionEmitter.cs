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
        var weight = convolution.weight!.detach().to(ScalarType.Float64);
        var bias = convolution.bias?.detach().to(ScalarType.Float64);
        if (batchNorm is not null)
        {
            // Eval semantics whatever the module's mode: running statistics, never batch statistics.
            // Double precision so the folded float32 weights are the exact products, rounded once.
            var outChannels = weight.shape[0];
            if (batchNorm.running_mean is null || batchNorm.running_var is null)
            {
                throw ModuleTreeWalker.Unsupported(batchNormPath!, batchNorm, "no running statistics (track_running_stats=false) to fold");
            }

            if (batchNorm.num_features != outChannels)
            {
                throw new InvalidOperationException(
                    $"{batchNormPath}: BatchNorm2d has {batchNorm.num_features} features but {path} outputs {outChannels} channels.");
            }

            var mean = batchNorm.running_mean.detach().to(ScalarType.Float64);
            var variance = batchNorm.running_var.detach().to(ScalarType.Float64);
            var gamma = batchNorm.weight?.detach().to(ScalarType.Float64) ?? ones(outChannels, ScalarType.Float64);
            var beta = batchNorm.bias?.detach().to(ScalarType.Float64) ?? zeros(outChannels, ScalarType.Float64);
            var scale = gamma / (variance + batchNorm.eps).sqrt();
            weight = weight * scale.view(-1, 1, 1, 1);
            bias = beta + (((bias ?? zeros(outChannels, ScalarType.Float64)) - mean) * scale);
        }

        var weightName = graph.AddInitializer($"{path}.weight", weight);
        var biasName = bias is null ? null : graph.AddInitializer($"{path}.bias", bias);
        return (weightName, biasName);
    }
}
