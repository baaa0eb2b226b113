using Microsoft.ML.ResNet.IO;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Modeling;

/// <summary>
/// Loads weights into a <see cref="ResNetModel"/> from PyTorch <c>.pth</c>, safetensors or ONNX,
/// checking every key and every shape, and saves them as <c>.pth</c> or safetensors in torchvision's or the seed's layout.
/// </summary>
/// <remarks>
/// TorchSharp.PyBridge's strict mode checks key names only: a 10-class file would silently overwrite
/// part of a 1000-class head. Here nothing is copied until the whole file has been checked.
/// </remarks>
internal static class ResNetWeights
{
    private const string HeadPrefix = "fc.";
    private const int MaxListedProblems = 12;

    /// <summary>Reads <paramref name="path"/> and copies its tensors into <paramref name="model"/>.</summary>
    /// <param name="model">The network to fill; left unchanged when the file does not fit.</param>
    /// <param name="path">A PyTorch, safetensors or ONNX weight file.</param>
    /// <param name="freshHead">Keep the model's own (freshly initialized) <c>fc</c> and ignore the file's:
    /// for fine-tuning to a different set of classes.</param>
    /// <returns>What the file says about its network (labels), or null when it does not (PyTorch files, safetensors we did not write).</returns>
    /// <exception cref="InvalidDataException">A key is missing or unexpected, or a shape differs (the message
    /// lists each key with the file's and the model's shape); the file has no head and <paramref name="freshHead"/> is false.</exception>
    public static WeightsHeader? Load(ResNetModel model, string path, bool freshHead = false)
    {
        using var file = WeightsFile.Read(path);
        Apply(model, file, freshHead);
        return file.Header;
    }

    /// <summary>Copies a read file's tensors into <paramref name="model"/> after checking them all.</summary>
    public static void Apply(ResNetModel model, WeightsFile file, bool freshHead)
    {
        var source = file.Tensors;
        if (!freshHead && !source.ContainsKey(HeadPrefix + "weight"))
        {
            throw new InvalidDataException(
                $"Weights file '{file.Path}' ({file.Format}) has no classifier head (fc.weight): it holds a feature extractor. Load it with a fresh head "
                + $"(freshHead: true, as the trainer does) to train {Describe(model.Spec)} on top of it.");
        }

        var target = model.state_dict();
        var problems = FindProblems(model.Spec, file, target, freshHead);
        if (problems.Count > 0)
        {
            var listed = string.Join(Environment.NewLine, problems.Take(MaxListedProblems).Select(p => "  " + p));
            var more = problems.Count > MaxListedProblems ? $"{Environment.NewLine}  ... and {problems.Count - MaxListedProblems} more" : "";
            throw new InvalidDataException(
                $"Weights file '{file.Path}' ({file.Format}) does not fit {Describe(model.Spec)}:{Environment.NewLine}{listed}{more}");
        }

        using var noGrad = no_grad();
        foreach (var (key, destination) in target)
        {
            if (!(freshHead && key.StartsWith(HeadPrefix, StringComparison.Ordinal)))
            {
                destination.copy_(source[key]);
            }
        }
    }

    /// <summary>Writes the model's weights and labels as safetensors that describe the network (architecture, variant,
    /// depths, labels in the metadata), atomically.</summary>
    /// <exception cref="ArgumentException">The label count differs from the model's class count.</exception>
    public static void Save(ResNetModel model, string path, IReadOnlyList<string>? labels = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        labels ??= Enumerable.Range(0, model.Spec.NumClasses).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Write(NetworkWeights.Capture(model, labels, normalization: null), path, ResNetWeightsFormat.Safetensors, ResNetWeightsLayout.TorchVision);
    }

    /// <summary>
    /// Writes <paramref name="weights"/> to <paramref name="path"/> atomically (a temp file beside it, then a rename: a
    /// reader sees the old file or the complete new one).
    /// </summary>
    /// <param name="weights">The network's tensors, under torchvision's keys.</param>
    /// <param name="path">The file to write; its folder must exist.</param>
    /// <param name="format">The file format.</param>
    /// <param name="layout">The key names; null = the network's own (the seed's for a <see cref="ResNetVariant.ProjectionShortcuts"/>
    /// network of basic blocks, torchvision's otherwise).</param>
    /// <exception cref="DirectoryNotFoundException">The folder of <paramref name="path"/> does not exist.</exception>
    /// <exception cref="ArgumentException">The seed's layout was asked for a network that has none.</exception>
    /// <exception cref="IOException">Writing failed; the previous file, if any, is unchanged.</exception>
    public static void Write(NetworkWeights weights, string path, ResNetWeightsFormat format, ResNetWeightsLayout? layout = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var spec = weights.Spec;
        var keys = layout ?? DefaultLayout(spec);
        if (keys == ResNetWeightsLayout.Seed && (spec.Variant != ResNetVariant.ProjectionShortcuts || spec.UsesBottleneck))
        {
            throw new ArgumentException(
                $"The seed's layout holds {ResNetVariant.ProjectionShortcuts} networks of basic blocks; this one is {spec.Describe()}. Save it with {nameof(ResNetWeightsLayout.TorchVision)} keys.",
                nameof(layout));
        }

        var tensors = keys == ResNetWeightsLayout.Seed
            ? weights.Tensors.Select(t => t with { Name = SeedLayout.ToSeed(t.Name) }).ToList()
            : weights.Tensors;
        AtomicFile.Write(path, stream =>
        {
            if (format == ResNetWeightsFormat.PyTorch)
            {
                PyTorchStateDictWriter.Write(stream, tensors);
            }
            else
            {
                SafetensorsFormat.Write(stream, tensors, SafetensorsFormat.Describe(weights));
            }
        }, createFolder: false);
    }

    /// <summary>The layout a network's own PyTorch code uses: the seed's for its wiring, torchvision's otherwise.</summary>
    public static ResNetWeightsLayout DefaultLayout(ResNetSpec spec) =>
        spec.Variant == ResNetVariant.ProjectionShortcuts && !spec.UsesBottleneck ? ResNetWeightsLayout.Seed : ResNetWeightsLayout.TorchVision;

    /// <summary>The format a file extension names: <c>.pth</c>/<c>.pt</c> PyTorch, <c>.safetensors</c> safetensors.</summary>
    /// <exception cref="ArgumentException">Any other extension; the message names the path and the accepted extensions.</exception>
    public static ResNetWeightsFormat FormatOf(string path, string parameterName) =>
        Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".pth" or ".pt" => ResNetWeightsFormat.PyTorch,
            ".safetensors" => ResNetWeightsFormat.Safetensors,
            var other => throw new ArgumentException(
                $"Cannot tell the weights format of '{path}' from its extension '{other}': use .pth or .pt (PyTorch) or .safetensors, or pass the format.", parameterName),
        };

    private static List<string> FindProblems(ResNetSpec spec, WeightsFile file, IReadOnlyDictionary<string, Tensor> target, bool freshHead)
    {
        var source = file.Tensors;
        var problems = new List<string>();
        foreach (var (key, expected) in target)
        {
            var isHead = key.StartsWith(HeadPrefix, StringComparison.Ordinal);
            if (freshHead && isHead)
            {
                continue;
            }

            if (!source.TryGetValue(key, out var actual))
            {
                problems.Add($"missing key '{file.FileKey(key)}' (the model expects shape {Shape(expected)})");
            }
            else if (!actual.shape.SequenceEqual(expected.shape))
            {
                var hint = isHead ? $"; the file's head has {actual.shape[0]} classes, the model {spec.NumClasses}: ask for a fresh head to replace it" : "";
                problems.Add($"shape of '{file.FileKey(key)}' is {Shape(actual)} in the file but {Shape(expected)} in the model{hint}");
            }
        }

        foreach (var (key, actual) in source.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (!target.ContainsKey(key) && !(freshHead && key.StartsWith(HeadPrefix, StringComparison.Ordinal)))
            {
                problems.Add($"unexpected key '{file.FileKey(key)}' (shape {Shape(actual)}), which {Describe(spec)} does not have");
            }
        }

        return problems;
    }

    private static string Shape(Tensor tensor) => $"[{string.Join(", ", tensor.shape)}]";

    private static string Describe(ResNetSpec spec) => $"{spec.Describe()} with {spec.NumClasses} classes";
}
