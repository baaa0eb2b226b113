namespace Microsoft.ML.ResNet.Modeling;

/// <summary>Everything that decides a network's shape: the parameters of one ResNet.</summary>
/// <param name="Architecture">Block type (basic or bottleneck) and, unless <paramref name="StageDepths"/> says
/// otherwise, the number of blocks per stage.</param>
/// <param name="NumClasses">Width of the <c>fc</c> head.</param>
/// <param name="Variant">torchvision's wiring or the seed project's.</param>
/// <param name="ZeroInitResidual">Start the last BatchNorm of every block at zero (each block begins as identity).</param>
/// <param name="StageDepths">Blocks in each of the four stages, overriding the architecture's own (e.g. 2/2/2/3 for
/// the ImageNet ResNet-18 of ML.NET's DnnImageFeaturizer package); null = the architecture's.</param>
internal sealed record ResNetSpec(
    ResNetArchitecture Architecture,
    int NumClasses,
    ResNetVariant Variant = ResNetVariant.TorchVision,
    bool ZeroInitResidual = false,
    IReadOnlyList<int>? StageDepths = null)
{
    /// <summary>The seed variant pools with a fixed 7x7 window, which only 224x224 inputs produce.</summary>
    public const int FixedPoolInputSize = Defaults.ImageSize;

    /// <summary>A ResNet has four stages (64, 128, 256, 512 wide).</summary>
    public const int StageCount = 4;

    public bool UsesBottleneck => Architecture >= ResNetArchitecture.ResNet50;

    /// <summary>Channels multiplier of a block's output over its width (torchvision's <c>expansion</c>).</summary>
    public int Expansion => UsesBottleneck ? 4 : 1;

    /// <summary>Width of the pooled embedding that feeds <c>fc</c>.</summary>
    public int FeatureSize => 512 * Expansion;

    /// <summary>True when <see cref="StageDepths"/> differs from the architecture's own depths.</summary>
    public bool HasCustomDepths => StageDepths is not null && !StageDepths.SequenceEqual(DefaultDepths(Architecture));

    public IReadOnlyList<int> BlocksPerStage => StageDepths ?? DefaultDepths(Architecture);

    /// <summary>The blocks per stage of a named architecture.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An unknown architecture.</exception>
    public static IReadOnlyList<int> DefaultDepths(ResNetArchitecture architecture) => architecture switch
    {
        ResNetArchitecture.ResNet18 => [2, 2, 2, 2],
        ResNetArchitecture.ResNet34 or ResNetArchitecture.ResNet50 => [3, 4, 6, 3],
        ResNetArchitecture.ResNet101 => [3, 4, 23, 3],
        ResNetArchitecture.ResNet152 => [3, 8, 36, 3],
        _ => throw new ArgumentOutOfRangeException(nameof(architecture), architecture, "Unknown ResNet architecture."),
    };

    /// <summary>Checks custom stage depths: exactly <see cref="StageCount"/> entries, each at least 1.</summary>
    /// <param name="depths">The depths to check; null passes (the architecture's own).</param>
    /// <param name="parameterName">The option's name, for the exception's ParamName.</param>
    /// <exception cref="ArgumentException">Not four entries, or an entry below 1.</exception>
    public static void ValidateDepths(IReadOnlyList<int>? depths, string parameterName)
    {
        if (depths is not null && (depths.Count != StageCount || depths.Any(d => d < 1)))
        {
            throw new ArgumentException(
                $"Stage depths need {StageCount} entries (blocks in each stage), each at least 1; got [{string.Join(", ", depths)}]. "
                + "Example: [2, 2, 2, 3]; leave null for the architecture's own.",
                parameterName);
        }
    }

    /// <summary>e.g. "ResNet18 (TorchVision)" or "ResNet18 (TorchVision, stage depths 2/2/2/3)".</summary>
    public string Describe() =>
        HasCustomDepths
            ? $"{Architecture} ({Variant}, stage depths {string.Join('/', BlocksPerStage)})"
            : $"{Architecture} ({Variant})";

    /// <summary>Checks the values a user can get wrong; returns this for chaining.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An unknown architecture or fewer than one class.</exception>
    /// <exception cref="ArgumentException">Stage depths that are not four entries of at least 1.</exception>
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

        ValidateDepths(StageDepths, nameof(StageDepths));
        return this;
    }

    /// <summary>Value equality, stage depths compared element by element.</summary>
    public bool Equals(ResNetSpec? other) =>
        other is not null
        && Architecture == other.Architecture
        && NumClasses == other.NumClasses
        && Variant == other.Variant
        && ZeroInitResidual == other.ZeroInitResidual
        && (StageDepths ?? []).SequenceEqual(other.StageDepths ?? []);

    // Records compare lists by reference; two specs with equal depths describe the same network.
    public override int GetHashCode() =>
        HashCode.Combine(Architecture, NumClasses, Variant, ZeroInitResidual, string.Join(',', StageDepths ?? []));
}
