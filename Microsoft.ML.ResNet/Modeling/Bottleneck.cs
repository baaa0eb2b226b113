using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Modeling;

// Field names are the state-dict keys (torchvision's), hence lower case; RegisterComponents reads them.
#pragma warning disable IDE1006

/// <summary>1x1 reduce, 3x3 (strided, as torchvision's "v1.5"), 1x1 expand by 4: ResNet-50/101/152's block.</summary>
internal sealed class Bottleneck : nn.Module<Tensor, Tensor>
{
    internal readonly Conv2d conv1;
    internal readonly BatchNorm2d bn1;
    internal readonly Conv2d conv2;
    internal readonly BatchNorm2d bn2;
    internal readonly Conv2d conv3;
    internal readonly BatchNorm2d bn3;
    internal readonly ReLU relu;
    internal readonly Sequential? downsample;

    public Bottleneck(string name, int inChannels, int width, int stride, Sequential? downsample, bool zeroInitResidual)
        : base(name)
    {
        const int expansion = 4;
        conv1 = nn.Conv2d(inChannels, width, 1, bias: false);
        bn1 = nn.BatchNorm2d(width);
        conv2 = nn.Conv2d(width, width, 3, stride: stride, padding: 1, bias: false);
        bn2 = nn.BatchNorm2d(width);
        conv3 = nn.Conv2d(width, width * expansion, 1, bias: false);
        bn3 = nn.BatchNorm2d(width * expansion);
        relu = nn.ReLU(inplace: true);
        this.downsample = downsample;
        ResNetInitializer.InitializeBlock([conv1, conv2, conv3], [bn1, bn2, bn3], zeroInitResidual);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var output = relu.call(bn1.call(PointwiseConvolution.Forward(conv1, input)));
        output = relu.call(bn2.call(conv2.call(output)));
        output = bn3.call(PointwiseConvolution.Forward(conv3, output));
        var shortcut = downsample is null ? input : ProjectionShortcut.Forward(downsample, input);
        return relu.call(output.add_(shortcut)).MoveToOuterDisposeScope();
    }
}
