using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Scoring;

namespace Microsoft.ML.ResNet.Catalog;

/// <summary>Turns <see cref="ResNetClassifierOptions.ModelPath"/> (ONNX or weights) into a <see cref="PreparedModel"/>.</summary>
internal static class ModelPreparer
{
    /// <param name="options">The verb's options: model path and what the model must be.</param>
    /// <param name="sessionOptions">The MLContext's settings, for ONNX Runtime's environment should reading the model's
    /// contract be the process's first session (see <see cref="ScoringModelInfo.Read(byte[], string, ScoringSessionOptions)"/>).</param>
    /// <exception cref="FileNotFoundException">No file at the model path.</exception>
    /// <exception cref="ArgumentException">The model disagrees with the options (architecture, size, labels).</exception>
    /// <exception cref="InvalidDataException">The file is not a loadable ONNX model or weights file; the message names it.</exception>
    public static PreparedModel Prepare(ResNetClassifierOptions options, ScoringSessionOptions sessionOptions)
    {
        var path = options.ModelPath;
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"No model file at '{path}' (ResNetClassifierOptions.ModelPath).", path);
        }

        return IsOnnx(path) ? FromOnnx(File.ReadAllBytes(path), path, options, sessionOptions) : FromWeights(options, sessionOptions);
    }

    private static bool IsOnnx(string path) => Path.GetExtension(path).Equals(".onnx", StringComparison.OrdinalIgnoreCase);

    private static PreparedModel FromOnnx(byte[] onnx, string source, ResNetClassifierOptions options, ScoringSessionOptions sessionOptions)
    {
        var info = ScoringModelInfo.Read(onnx, source, sessionOptions);
        if (options.Architecture is { } wanted && info.Architecture is { } actual && actual != wanted.ToString())
        {
            throw new ArgumentException(
                $"'{options.ModelPath}' holds a {actual}, not a {wanted}. Use ResNetClassify with Architecture = {actual} (or null to accept any).",
                nameof(options.Architecture));
        }

        if (options.Variant is { } wantedVariant && (info.Variant ?? nameof(ResNetVariant.TorchVision)) != wantedVariant.ToString())
        {
            throw new ArgumentException(
                $"'{options.ModelPath}' holds a network of the {info.Variant ?? nameof(ResNetVariant.TorchVision)} variant, not {wantedVariant}. Leave Variant null to accept the model's.",
                nameof(options.Variant));
        }

        if (options.StageDepths is { } depths && info.StageDepths is { } recorded && !depths.SequenceEqual(recorded))
        {
            throw new ArgumentException(
                $"'{options.ModelPath}' holds a network with stage depths {string.Join('/', recorded)}, not {string.Join('/', depths)}. Leave StageDepths null to accept the model's.",
                nameof(options.StageDepths));
        }

        if ((options.ImageHeight ?? info.Height) != info.Height || (options.ImageWidth ?? info.Width) != info.Width)
        {
            throw new ArgumentException(
                $"'{options.ModelPath}' takes {info.Height}x{info.Width} images (height x width), not {options.ImageHeight ?? info.Height}x{options.ImageWidth ?? info.Width}. Leave ImageHeight/ImageWidth null to use the model's size.",
                options.ImageHeight != info.Height ? nameof(options.ImageHeight) : nameof(options.ImageWidth));
        }

        var labels = options.Labels ?? info.Labels
            ?? throw new ArgumentException($"'{options.ModelPath}' has no labels in its metadata; pass Labels ({info.NumClasses} of them).", nameof(options.Labels));
        if (labels.Count != info.NumClasses)
        {
            throw new ArgumentException($"'{options.ModelPath}' has {info.NumClasses} classes but {labels.Count} labels were given.", nameof(options.Labels));
        }

        return new PreparedModel(onnx, labels.ToArray(), info);
    }

    private static PreparedModel FromWeights(ResNetClassifierOptions options, ScoringSessionOptions sessionOptions)
    {
        // Weights are turned into ONNX by our exporter, so both paths score through one graph contract.
        using var network = WeightsFileNetwork.Load(options.ModelPath, options.Architecture, options.StageDepths, options.Variant, options.Labels, labelsRequired: true);
        var normalization = network.Normalization ?? new ImageNormalization(Defaults.ImageNetMean, Defaults.ImageNetStd);
        // labelsRequired: the options' labels or the file's, never none.
        var (onnx, weights) = ClassifierOnnx.Export(
            network.Model, network.Labels!, normalization, options.ImageHeight ?? Defaults.ImageHeight, options.ImageWidth ?? Defaults.ImageWidth);
        return FromOnnx(onnx, $"the network exported from '{options.ModelPath}'", options, sessionOptions) with { Weights = weights };
    }
}
