using Microsoft.ML.ResNet.Native;

namespace Microsoft.ML.ResNet.Modeling;

/// <summary>
/// The network a weights file holds, built and loaded after checking it against what the caller asked for: the one home
/// of "weights file -> <see cref="ResNetModel"/>" for the exporter and the scorer. Owns the model: dispose it.
/// </summary>
internal sealed class WeightsFileNetwork : IDisposable
{
    private WeightsFileNetwork(ResNetModel model, IReadOnlyList<string>? labels, ImageNormalization? normalization)
    {
        Model = model;
        Labels = labels;
        Normalization = normalization;
    }

    public ResNetModel Model { get; }

    /// <summary>The caller's labels, else the file's; null when neither has any (and they were not required).</summary>
    public IReadOnlyList<string>? Labels { get; }

    /// <summary>The input normalization the file records; null when it records none.</summary>
    public ImageNormalization? Normalization { get; }

    /// <summary>Reads <paramref name="path"/> and loads its network, every key and shape checked.</summary>
    /// <param name="path">A .pth, .safetensors or ONNX ResNet.</param>
    /// <param name="architecture">The architecture asked for; null = the file's (an error when it records none).</param>
    /// <param name="stageDepths">Blocks per stage asked for; null = the file's or the architecture's.</param>
    /// <param name="variant">The wiring asked for; null = the file's.</param>
    /// <param name="labels">Labels overriding the file's.</param>
    /// <param name="labelsRequired">Whether a file without labels, and none given, is an error.</param>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="ArgumentException">What was asked for contradicts the file, or the file leaves something unsaid
    /// that was not given; the parameter name is the option's.</exception>
    /// <exception cref="InvalidDataException">The file is not a ResNet we can read.</exception>
    public static WeightsFileNetwork Load(string path, ResNetArchitecture? architecture, int[]? stageDepths, ResNetVariant? variant, IReadOnlyList<string>? labels, bool labelsRequired)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"No weights file at '{path}'.", path);
        }

        TorchNativeLoader.EnsureLoaded();
        using var file = WeightsFile.Read(path);
        var header = file.Header;

        // ONNX, our safetensors and seed-keyed state dicts say which network they hold; other PyTorch and safetensors files do not.
        var described = file.DescribedSpec;
        if (described is not null && architecture is { } wanted && wanted != described.Architecture)
        {
            throw new ArgumentException(
                $"'{path}' holds {described.Architecture} weights, not {wanted}. Set Architecture = {described.Architecture}, or leave it null to take the file's.",
                "Architecture");
        }

        if (described?.StageDepths is { } recorded && stageDepths is { } depths && !depths.SequenceEqual(recorded))
        {
            throw new ArgumentException(
                $"'{path}' holds a network with stage depths {string.Join('/', recorded)}, not {string.Join('/', depths)}. Leave StageDepths null to accept the file's.",
                "StageDepths");
        }

        if (variant is { } wantedVariant && wantedVariant != file.Variant && (described is not null || file.Variant == ResNetVariant.ProjectionShortcuts))
        {
            throw new ArgumentException(
                $"'{path}' holds a network of the {file.Variant} variant, not {wantedVariant}. Leave Variant null to accept the file's.",
                "Variant");
        }

        var resolvedArchitecture = architecture ?? described?.Architecture
            ?? throw new ArgumentException($"'{path}' ({file.Format}) does not say which ResNet it holds; set Architecture.", "Architecture");
        var classes = header?.NumClasses ?? file.HeadClassCount
            ?? throw new InvalidDataException($"'{path}' has no 'fc.weight' [K, F] tensor, so its class count is unknown.");
        var resolvedLabels = labels ?? header?.Labels;
        if (resolvedLabels is null && labelsRequired)
        {
            throw new ArgumentException($"'{path}' ({file.Format}) carries no class labels; pass Labels ({classes} of them, in output order).", "Labels");
        }

        if (resolvedLabels is not null && resolvedLabels.Count != classes)
        {
            throw new ArgumentException($"'{path}' has {classes} classes but {resolvedLabels.Count} labels were given.", "Labels");
        }

        var model = new ResNetModel(new ResNetSpec(resolvedArchitecture, classes, variant ?? file.Variant, StageDepths: stageDepths ?? described?.StageDepths));
        try
        {
            ResNetWeights.Apply(model, file, freshHead: false);
            return new WeightsFileNetwork(model, resolvedLabels, file.Normalization);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    public void Dispose() => Model.Dispose();
}
