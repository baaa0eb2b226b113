using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Scoring;

namespace Microsoft.ML.ResNet.Catalog;

/// <summary>Turns <see cref="ResNetClassifierOptions.ModelPath"/> (ONNX or weights) into a <see cref="PreparedModel"/>.</summary>
internal static class ModelPreparer
{
    /// <exception cref="FileNotFoundException">No file at the model path.</exception>
    /// <exception cref="ArgumentException">The model disagrees with the options (architecture, size, labels).</exception>
    /// <exception cref="InvalidDataException">The file is not a loadable ONNX model or weights file; the message names it.</exception>
    public static PreparedModel Prepare(ResNetClassifierOptions options)
    {
        var path = options.ModelPath;
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"No model file at '{path}' (ResNetClassifierOptions.ModelPath).", path);
        }

        return IsOnnx(path) ? FromOnnx(File.ReadAllBytes(path), path, options) : FromWeights(options);
    }

    /// <summary>Reads the model's contract with a throwaway, unoptimized session (fast to create).</summary>
    /// <param name="onnx">The model bytes.</param>
    /// <param name="source">Where the bytes came from (a file, a zip entry), for error messages.</param>
    /// <exception cref="InvalidDataException">ONNX Runtime cannot load the bytes (not ONNX, truncated, damaged);
    /// the message names <paramref name="source"/>.</exception>
    public static ScoringModelInfo ReadInfo(byte[] onnx, string source)
    {
        using var sessionOptions = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        InferenceSession session;
        try
        {
            session = new InferenceSession(onnx, sessionOptions);
        }
        catch (OnnxRuntimeException e)
        {
            // ORT's own message ("protobuf parsing failed") names no file.
            throw new InvalidDataException($"'{source}' is not a loadable ONNX model ({onnx.Length} bytes; not ONNX, truncated or damaged?): {e.Message}", e);
        }

        using (session)
        {
            return ScoringModelInfo.Read(session);
        }
    }

    private static bool IsOnnx(string path) => Path.GetExtension(path).Equals(".onnx", StringComparison.OrdinalIgnoreCase);

    private static PreparedModel FromOnnx(byte[] onnx, string source, ResNetClassifierOptions options)
    {
        var info = ReadInfo(onnx, source);
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

    private static PreparedModel FromWeights(ResNetClassifierOptions options)
    {
        // Weights are turned into ONNX by our exporter, so both paths score through one graph contract.
        using var network = WeightsFileNetwork.Load(options.ModelPath, options.Architecture, options.StageDepths, options.Variant, options.Labels, labelsRequired: true);
        var normalization = network.Normalization ?? new ImageNormalization(OnnxExportOptions.Defaults.Mean, OnnxExportOptions.Defaults.Std);
        var onnx = ResNetOnnxExporter.ToBytes(network.Model, new OnnxExportOptions
        {
            Labels = network.Labels,
            Mean = normalization.Mean,
            Std = normalization.Std,
            InputHeight = options.ImageHeight ?? Defaults.ImageHeight,
            InputWidth = options.ImageWidth ?? Defaults.ImageWidth,
            IncludeFeatures = true,
        });
        var prepared = FromOnnx(onnx, $"the network exported from '{options.ModelPath}'", options);
        return prepared with { Weights = NetworkWeights.Capture(network.Model, prepared.Labels, normalization) };
    }
}
