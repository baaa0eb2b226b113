using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Modeling;

/// <summary>Runs a block's <c>downsample</c> (1x1 convolution + BatchNorm) in training and inference.</summary>
/// <remarks>
/// libtorch 2.10's CPU backward of a strided 1x1 convolution with 1024 or more output channels kills the
/// process with SIGFPE (measured here: 512->1024 and 1024->2048 at stride 2, the shortcuts of ResNet-50's
/// stages 3 and 4; 256->512 is fine). A 1x1 kernel without padding reads only every stride-th pixel, so
/// taking those pixels first and convolving at stride 1 computes the same values through kernels that work.
/// The module itself keeps stride 2, so state dicts and the ONNX export are unchanged.
/// </remarks>
internal static class ProjectionShortcut
{
    public static Tensor Forward(Sequential downsample, Tensor input)
    {
        if (downsample.children().ToList() is not [Conv2d convolution, BatchNorm2d batchNorm] || !IsStridedPointwise(convolution))
        {
            return downsample.call(input);
        }

        using var scope = NewDisposeScope();
        var (strideHeight, strideWidth) = (convolution.stride[0], convolution.stride[^1]);
        var sampled = input[TensorIndex.Ellipsis, TensorIndex.Slice(null, null, strideHeight), TensorIndex.Slice(null, null, strideWidth)];
        var projected = nn.functional.conv2d(sampled, convolution.weight!, convolution.bias);
        return batchNorm.call(projected).MoveToOuterDisposeScope();
    }

    private static bool IsStridedPointwise(Conv2d convolution) =>
        convolution.kernel_size.All(k => k == 1)
        && convolution.stride.Any(s => s > 1)
        && (convolution.padding?.All(p => p == 0) ?? true)
        && convolution.padding_type != TorchSharp.Padding.Same
        && convolution.dilation.All(d => d == 1)
        && convolution.groups == 1;
}
