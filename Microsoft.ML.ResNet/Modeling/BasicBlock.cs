using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Modeling;

// Field names are the state-dict keys (torchvision's), hence lower case; RegisterComponents reads them.
#pragma warning disable IDE1006

/// <summary>Two 3x3 convolutions with an identity (or projection) shortcut: ResNet-18/34's block.</summary>
internal sealed class BasicBlock : nn.Module<Tensor, Tensor>
{
    internal readonly Conv2d conv1;
    internal readonly BatchNorm2d bn1;
    internal readonly ReLU relu;
    internal readonly Conv2d conv2;
    internal readonly BatchNorm2d bn2;
    internal readonly Sequential? downsample;

    public BasicBlock(string name, int inChannels, int width, int stride, Sequential? downsample, bool zeroInitResidual)
        : base(name)
    {
        conv1 = nn.Conv2d(inChannels, width, 3, stride: stride, padding: 1, bias: false);
        bn1 = nn.BatchNorm2d(width);
        relu = nn.ReLU(inplace: true);
        conv2 = nn.Conv2d(width, width, 3, stride: 1, padding: 1, bias: false);
        bn2 = nn.BatchNorm2d(width);
        this.downsample = downsample;
        ResNetInitializer.InitializeBlock([conv1, conv2], [bn1, bn2], zeroInitResidual);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var output = relu.call(bn1.call(conv1.call(input)));
        output = bn2.call(conv2.call(output));
        var shortcut = downsample is null ? input : ProjectionShortcut.Forward(downsample, input);
        return relu.call(output.add_(shortcut)).MoveToOuterDisposeScope();
    }
}
