using Microsoft.ML.ResNet.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Modeling;

// Field names are the state-dict keys (torchvision's), hence lower case; RegisterComponents reads them.
#pragma warning disable IDE1006

/// <summary>
/// The ResNet family in TorchSharp with torchvision's module tree and state-dict keys. Owns native
/// tensors: dispose it.
/// </summary>
internal sealed class ResNetModel : nn.Module<Tensor, Tensor>
{
    internal readonly Conv2d conv1;
    internal readonly BatchNorm2d bn1;
    internal readonly ReLU relu;
    internal readonly MaxPool2d maxpool;
    internal readonly Sequential layer1;
    internal readonly Sequential layer2;
    internal readonly Sequential layer3;
    internal readonly Sequential layer4;
    internal readonly nn.Module<Tensor, Tensor> avgpool;
    internal readonly Linear fc;

    // Runs before the base constructor, the first native call.
    static ResNetModel() => TorchNativeLoader.EnsureLoaded();

    /// <summary>Builds a freshly initialized network.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The spec is invalid (see <see cref="ResNetSpec.Validate"/>).</exception>
    public ResNetModel(ResNetSpec spec)
        : base(spec.Architecture.ToString().ToLowerInvariant())
    {
        Spec = spec.Validate();
        conv1 = nn.Conv2d(3, 64, 7, stride: 2, padding: 3, bias: false);
        bn1 = nn.BatchNorm2d(64);
        relu = nn.ReLU(inplace: true);
        maxpool = nn.MaxPool2d(3, stride: 2, padding: 1);

        var inChannels = 64;
        var stages = new Sequential[4];
        for (var stage = 0; stage < stages.Length; stage++)
        {
            var width = 64 << stage;
            stages[stage] = MakeStage(spec, ref inChannels, width, spec.BlocksPerStage[stage], stride: stage == 0 ? 1 : 2);
        }

        (layer1, layer2, layer3, layer4) = (stages[0], stages[1], stages[2], stages[3]);
        avgpool = spec.Variant == ResNetVariant.ProjectionShortcuts
            ? nn.AvgPool2d(7, stride: 1)
            : nn.AdaptiveAvgPool2d([1, 1]);
        fc = nn.Linear(spec.FeatureSize, spec.NumClasses);

        using (no_grad())
        {
            ResNetInitializer.InitializeConvolution(conv1);
            ResNetInitializer.InitializeBatchNorm(bn1);
        }

        RegisterComponents();
    }

    public ResNetSpec Spec { get; }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        return fc.call(Features(input)).MoveToOuterDisposeScope();
    }

    /// <summary>The pooled embedding [N, <see cref="ResNetSpec.FeatureSize"/>] that feeds <c>fc</c>.</summary>
    /// <param name="input">Pixels [N, 3, H, W].</param>
    /// <param name="frozenStages">Stages from the input (see <see cref="StageModules"/>) run without autograd: they learn
    /// nothing, and their backward pass, the most expensive one at full resolution, is not computed.</param>
    /// <exception cref="ArgumentException">The input is not [N, 3, H, W] with H and W of at least
    /// <see cref="Defaults.MinimumInputSize"/> (exactly 224 for the projection-shortcut variant).</exception>
    public Tensor Features(Tensor input, int frozenStages = 0)
    {
        using var scope = NewDisposeScope();
        return FeaturesFrom(StagesOutput(input, frozenStages), frozenStages).MoveToOuterDisposeScope();
    }

    /// <summary>Whether the head averages the whole last map (torchvision's adaptive pooling) rather than a fixed 7x7
    /// window (the projection-shortcut variant's): then a map already averaged per channel passes through it unchanged.</summary>
    public bool PoolsWholeMap => avgpool is TorchSharp.Modules.AdaptiveAvgPool2d;

    /// <summary>The output of the first <paramref name="count"/> stages (see <see cref="StageModules"/>), without gradient.</summary>
    public Tensor StagesOutput(Tensor input, int count)
    {
        CheckInputShape(input);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = input;
        for (var stage = 0; stage < count; stage++)
        {
            x = RunStage(stage, x);
        }

        return x.MoveToOuterDisposeScope();
    }

    /// <summary>The pooled features from the output of the first <paramref name="firstStage"/> stages: the stages from
    /// <paramref name="firstStage"/> on, then the pool.</summary>
    public Tensor FeaturesFrom(Tensor stagesOutput, int firstStage)
    {
        using var scope = NewDisposeScope();
        var x = stagesOutput;
        for (var stage = firstStage; stage < StageModules.Count; stage++)
        {
            x = RunStage(stage, x);
        }

        return avgpool.call(x).flatten(1).MoveToOuterDisposeScope();
    }

    /// <summary>The stages from the input, each as the names of the child modules it owns: the stem, then layer1 to layer4.</summary>
    public static IReadOnlyList<string[]> StageModules { get; } = [["conv1", "bn1"], ["layer1"], ["layer2"], ["layer3"], ["layer4"]];

    private Tensor RunStage(int stage, Tensor x) => stage switch
    {
        0 => maxpool.call(relu.call(bn1.call(conv1.call(x)))),
        1 => layer1.call(x),
        2 => layer2.call(x),
        3 => layer3.call(x),
        _ => layer4.call(x),
    };

    private void CheckInputShape(Tensor input)
    {
        if (input.dim() != 4 || input.shape[1] != 3)
        {
            throw new ArgumentException($"Expected pixels shaped [N, 3, H, W], got [{string.Join(", ", input.shape)}].", nameof(input));
        }

        var (height, width) = (input.shape[2], input.shape[3]);
        if (Spec.Variant == ResNetVariant.ProjectionShortcuts && (height != ResNetSpec.FixedPoolInputSize || width != ResNetSpec.FixedPoolInputSize))
        {
            throw new ArgumentException(
                $"The {ResNetVariant.ProjectionShortcuts} variant pools with a fixed 7x7 window and takes only {ResNetSpec.FixedPoolInputSize}x{ResNetSpec.FixedPoolInputSize} inputs, got {height}x{width}.", nameof(input));
        }

        if (height < Defaults.MinimumInputSize || width < Defaults.MinimumInputSize)
        {
            throw new ArgumentException($"Inputs must be at least {Defaults.MinimumInputSize}x{Defaults.MinimumInputSize}, got {height}x{width}.", nameof(input));
        }
    }

    private static Sequential MakeStage(ResNetSpec spec, ref int inChannels, int width, int blocks, int stride)
    {
        var outChannels = width * spec.Expansion;
        var project = stride != 1 || inChannels != outChannels || spec.Variant == ResNetVariant.ProjectionShortcuts;
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>(blocks);
        for (var i = 0; i < blocks; i++)
        {
            var downsample = i == 0 && project ? MakeProjection(inChannels, outChannels, stride) : null;
            var blockStride = i == 0 ? stride : 1;
            nn.Module<Tensor, Tensor> block = spec.UsesBottleneck
                ? new Bottleneck($"{i}", inChannels, width, blockStride, downsample, spec.ZeroInitResidual)
                : new BasicBlock($"{i}", inChannels, width, blockStride, downsample, spec.ZeroInitResidual);
            layers.Add(($"{i}", block));
            inChannels = outChannels;
        }

        return nn.Sequential(layers);
    }

    private static Sequential MakeProjection(int inChannels, int outChannels, int stride)
    {
        var convolution = nn.Conv2d(inChannels, outChannels, 1, stride: stride, bias: false);
        var batchNorm = nn.BatchNorm2d(outChannels);
        using (no_grad())
        {
            ResNetInitializer.InitializeConvolution(convolution);
            ResNetInitializer.InitializeBatchNorm(batchNorm);
        }

        return nn.Sequential(("0", convolution), ("1", batchNorm));
    }
}
