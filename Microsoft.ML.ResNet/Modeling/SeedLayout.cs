using System.Globalization;
using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Modeling;

/// <summary>
/// The seed project's state-dict key names and how they map onto torchvision's (ours): <c>pre.0</c> = conv1,
/// <c>pre.1</c> = bn1, a block's <c>left.0/1/3/4</c> = conv1/bn1/conv2/bn2 (2 is its ReLU), <c>right.0/1</c> =
/// downsample.0/1, <c>fc</c> = fc.
/// </summary>
/// <remarks>
/// The seed's <c>ResNet</c> has a projection shortcut (<c>right</c>) on the first block of every stage and basic blocks
/// only, so its keys fully describe a <see cref="ResNetVariant.ProjectionShortcuts"/> network; a file is recognised by
/// its stem key <see cref="StemKey"/>.
/// </remarks>
internal static partial class SeedLayout
{
    /// <summary>The seed's stem convolution, which no torchvision state dict has.</summary>
    public const string StemKey = "pre.0.weight";

    private static readonly (string Seed, string TorchVision)[] BlockParts =
        [("left.0", "conv1"), ("left.1", "bn1"), ("left.3", "conv2"), ("left.4", "bn2"), ("right.0", "downsample.0"), ("right.1", "downsample.1")];

    /// <summary>True when the keys are the seed's (its stem key is there).</summary>
    public static bool Recognizes(IEnumerable<string> keys) => keys.Contains(StemKey, StringComparer.Ordinal);

    /// <summary>The torchvision key for a seed key; a key that is not one of the seed's is returned unchanged (it then
    /// shows up as unexpected, under its own name).</summary>
    public static string ToTorchVision(string seedKey)
    {
        if (seedKey.StartsWith("pre.0.", StringComparison.Ordinal))
        {
            return "conv1." + seedKey["pre.0.".Length..];
        }

        if (seedKey.StartsWith("pre.1.", StringComparison.Ordinal))
        {
            return "bn1." + seedKey["pre.1.".Length..];
        }

        var match = BlockKey().Match(seedKey);
        if (match.Success)
        {
            foreach (var (seed, torchVision) in BlockParts)
            {
                if (match.Groups["part"].Value == seed)
                {
                    return $"{match.Groups["block"].Value}.{torchVision}.{match.Groups["tensor"].Value}";
                }
            }
        }

        return seedKey;
    }

    /// <summary>The seed's key for one of our (torchvision) keys.</summary>
    /// <exception cref="ArgumentException">The key has no place in the seed's network (e.g. a bottleneck's conv3).</exception>
    public static string ToSeed(string torchVisionKey)
    {
        if (torchVisionKey.StartsWith("conv1.", StringComparison.Ordinal))
        {
            return "pre.0." + torchVisionKey["conv1.".Length..];
        }

        if (torchVisionKey.StartsWith("bn1.", StringComparison.Ordinal))
        {
            return "pre.1." + torchVisionKey["bn1.".Length..];
        }

        if (torchVisionKey.StartsWith("fc.", StringComparison.Ordinal))
        {
            return torchVisionKey;
        }

        var match = TorchVisionBlockKey().Match(torchVisionKey);
        if (match.Success)
        {
            foreach (var (seed, torchVision) in BlockParts)
            {
                if (match.Groups["part"].Value == torchVision)
                {
                    return $"{match.Groups["block"].Value}.{seed}.{match.Groups["tensor"].Value}";
                }
            }
        }

        throw new ArgumentException($"State-dict key '{torchVisionKey}' has no place in the seed's network (basic blocks with pre/left/right/fc modules).", nameof(torchVisionKey));
    }

    /// <summary>
    /// The network a seed state dict (already under torchvision keys) holds: blocks per stage counted from the keys,
    /// basic blocks, projection shortcuts, the head's class count (1000 when the file has no head).
    /// </summary>
    public static ResNetSpec Describe(IReadOnlyDictionary<string, Tensor> torchVisionKeyed)
    {
        var depths = new int[ResNetSpec.StageCount];
        foreach (var key in torchVisionKeyed.Keys)
        {
            var match = TorchVisionBlockKey().Match(key);
            if (match.Success)
            {
                var stage = int.Parse(match.Groups["stage"].Value, CultureInfo.InvariantCulture) - 1;
                var block = int.Parse(match.Groups["index"].Value, CultureInfo.InvariantCulture);
                depths[stage] = Math.Max(depths[stage], block + 1);
            }
        }

        var classes = torchVisionKeyed.TryGetValue("fc.weight", out var fc) && fc.dim() == 2 ? (int)fc.shape[0] : 1000;
        var named = new[] { ResNetArchitecture.ResNet34, ResNetArchitecture.ResNet18 }
            .Where(a => ResNetSpec.DefaultDepths(a).SequenceEqual(depths))
            .Select(a => (ResNetArchitecture?)a)
            .FirstOrDefault();
        return new ResNetSpec(named ?? ResNetArchitecture.ResNet34, classes, ResNetVariant.ProjectionShortcuts, StageDepths: named is null ? depths : null);
    }

    [GeneratedRegex(@"^(?<block>layer[1-4]\.\d+)\.(?<part>left\.[0-9]|right\.[0-9])\.(?<tensor>.+)$")]
    private static partial Regex BlockKey();

    [GeneratedRegex(@"^(?<block>layer(?<stage>[1-4])\.(?<index>\d+))\.(?<part>conv[0-9]|bn[0-9]|downsample\.[0-9])\.(?<tensor>.+)$")]
    private static partial Regex TorchVisionBlockKey();
}
