using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Modeling;

/// <summary>torchvision's initialization: He-normal (fan-out) convolutions, unit/zero BatchNorm.</summary>
internal static class ResNetInitializer
{
    public static void InitializeConvolution(Conv2d convolution) =>
        nn.init.kaiming_normal_(convolution.weight!, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);

    public static void InitializeBatchNorm(BatchNorm2d batchNorm, bool startAtZero = false)
    {
        nn.init.constant_(batchNorm.weight!, startAtZero ? 0 : 1);
        nn.init.zeros_(batchNorm.bias!);
    }

    /// <summary>With <paramref name="zeroInitResidual"/>, the block's last BatchNorm starts at zero so the
    /// block starts as identity (Goyal et al., 2017), which helps large-batch training.</summary>
    public static void InitializeBlock(Conv2d[] convolutions, BatchNorm2d[] batchNorms, bool zeroInitResidual)
    {
        using var noGrad = no_grad();
        foreach (var convolution in convolutions)
        {
            InitializeConvolution(convolution);
        }

        for (var i = 0; i < batchNorms.Length; i++)
        {
            InitializeBatchNorm(batchNorms[i], startAtZero: zeroInitResidual && i == batchNorms.Length - 1);
        }
    }
}
