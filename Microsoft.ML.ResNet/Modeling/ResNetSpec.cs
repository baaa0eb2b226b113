namespace Microsoft.ML.ResNet.Modeling;

/// <summary>Everything that decides a network's shape: the parameters of one ResNet.</summary>
/// <param name="Architecture">Depth and block type.</param>
/// <param name="NumClasses">Width of the <c>fc</c> head.</param>
/// <param name="Variant">torchvision's wiring or the seed project's.</param>
/// <param name="ZeroInitResidual">Start the last BatchNorm of every block at zero (each block begins as identity).</param>
internal sealed record ResNetSpec(
    ResNetArchitecture Architecture,
    int NumClasses,
    ResNetVariant Variant = ResNetVariant.TorchVision,
    bool ZeroInitResidual = false)
{
    /// <summary>The seed variant pools with a fixed 7x7 window, which only 224x224 inputs produce.</summary>
    public const int FixedPoolInputSize = 224;

    public bool UsesBottleneck => Architecture >= ResNetArchitecture.ResNet50;

    /// <summary>Channels multiplier of a block's output over its width (torchvision's <c>expansion</c>).</summary>
    public int Expansion => UsesBottleneck ? 4 : 1;

    /// <summary>Width of the pooled embedding that feeds <c>fc</c>.</summary>
    public int FeatureSize => 512 * Expansion;

    public IReadOnlyList<int> BlocksPerStage => Architecture switch
    {
        ResNetArchitecture.ResNet18 => [2, 2, 2, 2],
        ResNetArchitecture.ResNet34 or ResNetArchitecture.ResNet50 => [3, 4, 6, 3],
        ResNetArchitecture.ResNet101 => [3, 4, 23, 3],
        ResNetArchitecture.ResNet152 => [3, 8, 36, 3],
        _ => throw new ArgumentOutOfRangeException(nameof(Architecture), Architecture, "Unknown ResNet architecture."),
    };

    /// <summary>Checks the values a user can get wrong; returns this for chaining.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An unknown architecture or fewer than one class.</exception>
    public ResNetSpec Validate()
    {
        if (!Enum.IsDefined(Architecture))
        {
            throw new ArgumentOutOfRangeException(nameof(Architecture), Architecture, $"Expected one of {string.Join(", ", Enum.GetNames<ResNetArchitecture>())}.");
        }

        if (NumClasses < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(NumClasses), NumClasses, "A classifier needs at least one class.");
        }

        if (!Enum.IsDefined(Variant))
        {
            throw new ArgumentOutOfRangeException(nameof(Variant), Variant, $"Expected one of {string.Join(", ", Enum.GetNames<ResNetVariant>())}.");
        }

        return this;
    }
}
