using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Training;

/// <summary>
/// Channels-last (NHWC) storage under NCHW dimensions, the layout oneDNN computes convolutions in without reordering each
/// one's input and output: what PyTorch's <c>memory_format=torch.channels_last</c> does underneath, which TorchSharp 0.107
/// has no argument for. libtorch keeps the layout through convolution, BatchNorm, ReLU and pooling.
/// </summary>
internal static class ChannelsLast
{
    /// <summary>A channels-last copy of a 4-D tensor; other tensors are returned as an alias.</summary>
    public static Tensor Of(Tensor tensor) =>
        tensor.dim() == 4 ? tensor.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2) : tensor.alias();

    /// <summary>Restrides every 4-D parameter (the convolutions' weights) of <paramref name="module"/> channels-last, in place.</summary>
    public static void RestrideWeights(nn.Module module)
    {
        using var noGrad = no_grad();
        foreach (var weight in module.parameters().Where(p => p.dim() == 4))
        {
            using var restrided = Of(weight);
            weight.set_(restrided);
        }
    }

    /// <summary>A channels-last copy of <paramref name="tensor"/> converted to <paramref name="type"/>.</summary>
    public static Tensor Of(Tensor tensor, ScalarType type)
    {
        using var converted = tensor.to(type);
        return Of(converted);
    }
}
