namespace Microsoft.ML.ResNet.Modeling;

/// <summary>What a self-describing weights file (safetensors we wrote) says about the network it belongs to.</summary>
/// <param name="Architecture">Block type and, unless <see cref="StageDepths"/> says otherwise, blocks per stage.</param>
/// <param name="Variant">torchvision's wiring or the seed's.</param>
/// <param name="NumClasses">Width of the head: the label count.</param>
/// <param name="Labels">Class labels in logit order.</param>
internal sealed record WeightsHeader(
    ResNetArchitecture Architecture,
    ResNetVariant Variant,
    int NumClasses,
    IReadOnlyList<string> Labels)
{
    /// <summary>Blocks per stage when they differ from the architecture's own; null otherwise.</summary>
    public IReadOnlyList<int>? StageDepths { get; init; }
}
