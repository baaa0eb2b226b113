using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Modeling;

/// <summary>
/// Runs a 1x1 convolution (a block's reduce or expand, a projection shortcut) around two defects of libtorch 2.10's CPU
/// kernels, computing the same values as the module itself, which keeps its stride, so state dicts and the ONNX export
/// are unchanged.
/// </summary>
/// <remarks>
/// Measured here, each case in a child process (AMD EPYC, AVX-512, libtorch 2.10 under TorchSharp 0.107; PyTorch 1.13
/// computes every one of them right on the same CPU):
/// <list type="bullet">
/// <item>NCHW: the backward of a strided 1x1 convolution with 1024 or more output channels kills the process with SIGFPE
/// (512->1024 and 1024->2048 at stride 2, ResNet-50's shortcuts; 256->512 is fine). A 1x1 kernel without padding reads
/// only every stride-th pixel, so taking those pixels first and convolving at stride 1 goes through kernels that work.</item>
/// <item>Channels-last (the bfloat16 training copy and backbone, the benchmark's float32 variants): on an EPYC of family
/// 26, float32 256->512 returns values 14% off (relative L2 against float64), and float32 or bfloat16 512->1024,
/// 256->1024, 1024->2048 (forward) or 1024->256, 2048->512 (backward) die with SIGFPE: every bottleneck network. Over
/// NHWC storage a 1x1 convolution is exactly the product of the [pixels, in] matrix with the weight's [in, out], which
/// libtorch's matrix product computes right in both precisions.</item>
/// </list>
/// </remarks>
internal static class PointwiseConvolution
{
    public static Tensor Forward(Conv2d convolution, Tensor input)
    {
        if (!IsPointwise(convolution))
        {
            return convolution.call(input);
        }

        var strided = convolution.stride.Any(s => s > 1);
        var channelsLast = input.device_type == DeviceType.CPU && (IsChannelsLast(input) || IsChannelsLast(convolution.weight!));
        if (!strided && !channelsLast)
        {
            return convolution.call(input);
        }

        using var scope = NewDisposeScope();
        var (strideHeight, strideWidth) = (convolution.stride[0], convolution.stride[^1]);
        var sampled = strided
            ? input[TensorIndex.Ellipsis, TensorIndex.Slice(null, null, strideHeight), TensorIndex.Slice(null, null, strideWidth)]
            : input;
        var output = channelsLast
            ? ByMatrixProduct(sampled, convolution.weight!, convolution.bias)
            : nn.functional.conv2d(sampled, convolution.weight!, convolution.bias);
        return output.MoveToOuterDisposeScope();
    }

    private static Tensor ByMatrixProduct(Tensor input, Tensor weight, Tensor? bias)
    {
        var (batch, channels, height, width) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3]);
        var outputs = weight.shape[0];
        var pixels = input.permute(0, 2, 3, 1).reshape(-1, channels);
        var projected = pixels.matmul(weight.reshape(outputs, channels).t());
        if (bias is not null)
        {
            projected = projected + bias;
        }

        // [N, H, W, out] storage under [N, out, H, W] dimensions: channels-last, as the convolution's output would be.
        return projected.view(batch, height, width, outputs).permute(0, 3, 1, 2);
    }

    // NCHW dimensions over NHWC storage, as libtorch tells it (a channels-last weight makes a convolution channels-last).
    private static bool IsChannelsLast(Tensor tensor) =>
        tensor.dim() == 4 && tensor.shape[1] > 1 && tensor.stride(1) == 1 && tensor.stride(3) == tensor.shape[1];

    private static bool IsPointwise(Conv2d convolution) =>
        convolution.kernel_size.All(k => k == 1)
        && (convolution.padding?.All(p => p == 0) ?? true)
        && convolution.padding_type != TorchSharp.Padding.Same
        && convolution.dilation.All(d => d == 1)
        && convolution.groups == 1;
}
