using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Modeling;

/// <summary>
/// Runs a block's <c>downsample</c> (1x1 convolution + BatchNorm) in training and inference, its convolution through
/// <see cref="PointwiseConvolution"/>.
/// </summary>
internal static class ProjectionShortcut
{
    public static Tensor Forward(Sequential downsample, Tensor input)
    {
        if (downsample.children().ToList() is not [Conv2d convolution, BatchNorm2d batchNorm])
        {
            return downsample.call(input);
        }

        using var scope = NewDisposeScope();
        return batchNorm.call(PointwiseConvolution.Forward(convolution, input)).MoveToOuterDisposeScope();
    }
}
