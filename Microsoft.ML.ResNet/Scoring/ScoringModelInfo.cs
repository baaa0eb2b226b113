using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>What the scorer needs to know about an ONNX classifier, read from the live session.</summary>
internal sealed record ScoringModelInfo(
    string InputName,
    int Height,
    int Width,
    int NumClasses,
    int FeatureSize,
    IReadOnlyList<string>? Labels,
    string? Architecture,
    IReadOnlyDictionary<string, string> Metadata)
{
    /// <summary>Blocks per stage as the model's metadata records them; null when it does not say.</summary>
    public IReadOnlyList<int>? StageDepths { get; init; }

    /// <summary>The wiring the model's metadata records (a <see cref="ResNetVariant"/> name); null when it does not say.</summary>
    public string? Variant => Metadata.TryGetValue(OnnxContract.Metadata.Variant, out var variant) ? variant : null;

    /// <summary>Length of one row's pixel vector: 3 planes of Height x Width.</summary>
    public int PixelCount => 3 * Height * Width;

    public bool HasFeatures => FeatureSize > 0;

    /// <summary>Height of the <see cref="OnnxContract.HeatMapsOutput"/> maps; 0 when the graph has none.</summary>
    public int HeatMapHeight { get; init; }

    /// <summary>Width of the <see cref="OnnxContract.HeatMapsOutput"/> maps; 0 when the graph has none.</summary>
    public int HeatMapWidth { get; init; }

    /// <summary>Values in one class's map (h x w).</summary>
    public int HeatMapSize => HeatMapHeight * HeatMapWidth;

    public bool HasHeatMaps => HeatMapSize > 0;

    /// <summary>Reads a model's contract with a throwaway, unoptimized session (fast to create).</summary>
    /// <param name="onnx">The model bytes.</param>
    /// <param name="source">Where the bytes came from (a file, a zip entry), for error messages.</param>
    /// <param name="sessionOptions">The MLContext's settings (<c>HostSettings.Resolve</c>). This session may be the first in the
    /// process, so it makes ONNX Runtime's environment from them as the scoring sessions do
    /// (<see cref="OnnxScoringSession.EnsureEnvironment"/>); the session's own options stay those of a throwaway.</param>
    /// <exception cref="InvalidDataException">ONNX Runtime cannot load the bytes (not ONNX, truncated, damaged);
    /// the message names <paramref name="source"/>.</exception>
    /// <exception cref="InvalidOperationException">The graph does not follow the contract; the message lists what it has.</exception>
    public static ScoringModelInfo Read(byte[] onnx, string source, ScoringSessionOptions sessionOptions)
    {
        OnnxScoringSession.EnsureEnvironment(sessionOptions);
        using var throwawayOptions = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        InferenceSession session;
        try
        {
            session = new InferenceSession(onnx, throwawayOptions);
        }
        catch (OnnxRuntimeException e)
        {
            // ORT's own message ("protobuf parsing failed") names no file.
            throw new InvalidDataException($"'{source}' is not a loadable ONNX model ({onnx.Length} bytes; not ONNX, truncated or damaged?): {e.Message}", e);
        }

        using (session)
        {
            return Read(session);
        }
    }

    /// <summary>Checks the session against <see cref="OnnxContract"/> and reads its shapes and metadata.</summary>
    /// <exception cref="InvalidOperationException">The graph does not follow the contract; the message lists what it has.</exception>
    public static ScoringModelInfo Read(InferenceSession session)
    {
        var inputs = session.InputMetadata;
        if (inputs.Count != 1)
        {
            throw new InvalidOperationException(
                $"A ResNet classifier has one input ('{OnnxContract.PixelsInput}' [N,3,H,W]); this model has {inputs.Count}: {string.Join(", ", inputs.Keys)}.");
        }

        var (inputName, input) = inputs.First();
        var dims = input.Dimensions;
        if (input.ElementType != typeof(float) || dims.Length != 4 || dims[1] != 3)
        {
            throw new InvalidOperationException(
                $"Input '{inputName}' must be float [N,3,H,W]; the model declares {input.ElementType.Name} [{string.Join(",", dims)}].");
        }

        var metadata = session.ModelMetadata.CustomMetadataMap;
        var (height, width) = (dims[2], dims[3]);
        if ((height <= 0 || width <= 0) && metadata.TryGetValue(OnnxContract.Metadata.InputSize, out var size))
        {
            var hw = JsonSerializer.Deserialize<int[]>(size);
            if (hw is { Length: 2 })
            {
                (height, width) = (hw[0], hw[1]);
            }
        }

        if (height <= 0 || width <= 0)
        {
            throw new InvalidOperationException(
                $"Input '{inputName}' has no fixed height and width ([{string.Join(",", dims)}]) and the model has no '{OnnxContract.Metadata.InputSize}' metadata.");
        }

        var outputs = session.OutputMetadata;
        if (!outputs.TryGetValue(OnnxContract.ProbabilitiesOutput, out var probabilities)
            || probabilities.ElementType != typeof(float)
            || probabilities.Dimensions.Length != 2
            || probabilities.Dimensions[1] <= 0)
        {
            throw new InvalidOperationException(
                $"A ResNet classifier has output '{OnnxContract.ProbabilitiesOutput}' float [N,K]; this model has: {Describe(outputs)}.");
        }

        var featureSize = outputs.TryGetValue(OnnxContract.FeaturesOutput, out var features)
            && features.Dimensions.Length == 2 && features.Dimensions[1] > 0
            ? features.Dimensions[1]
            : 0;

        var heatMaps = outputs.TryGetValue(OnnxContract.HeatMapsOutput, out var maps) && maps.Dimensions is [_, var classes, > 0, > 0]
            && classes == probabilities.Dimensions[1]
            ? maps.Dimensions
            : null;

        string[]? labels = null;
        if (metadata.TryGetValue(OnnxContract.Metadata.Labels, out var json))
        {
            labels = JsonSerializer.Deserialize<string[]>(json);
        }

        metadata.TryGetValue(OnnxContract.Metadata.Architecture, out var architecture);
        int[]? depths = null;
        if (metadata.TryGetValue(OnnxContract.Metadata.StageDepths, out var depthsJson))
        {
            try
            {
                depths = JsonSerializer.Deserialize<int[]>(depthsJson);
                ResNetSpec.ValidateDepths(depths, OnnxContract.Metadata.StageDepths);
            }
            catch (Exception e) when (e is JsonException or ArgumentException)
            {
                throw new InvalidOperationException($"Metadata '{OnnxContract.Metadata.StageDepths}' is not an array of {ResNetSpec.StageCount} block counts of at least 1: {depthsJson}", e);
            }
        }

        return new ScoringModelInfo(
            inputName, height, width, probabilities.Dimensions[1], featureSize, labels, architecture,
            new Dictionary<string, string>(metadata))
        {
            StageDepths = depths,
            HeatMapHeight = heatMaps?[2] ?? 0,
            HeatMapWidth = heatMaps?[3] ?? 0,
        };
    }

    private static string Describe(IReadOnlyDictionary<string, NodeMetadata> nodes) =>
        string.Join(", ", nodes.Select(n => $"'{n.Key}' {n.Value.ElementType.Name} [{string.Join(",", n.Value.Dimensions)}]"));
}
