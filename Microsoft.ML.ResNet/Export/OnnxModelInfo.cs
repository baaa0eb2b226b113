using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.ML.ResNet.Modeling;
using Onnx;

namespace Microsoft.ML.ResNet.Export;

/// <summary>What a ResNetMl ONNX file says about itself (its metadata_props and outputs).</summary>
/// <param name="Architecture">The ResNet depth it was exported from.</param>
/// <param name="Variant">The wiring it was exported from.</param>
/// <param name="Labels">Class labels in logit order.</param>
/// <param name="Mean">Per-channel mean the graph subtracts.</param>
/// <param name="Std">Per-channel std the graph divides by.</param>
/// <param name="InputHeight">Fixed input height.</param>
/// <param name="InputWidth">Fixed input width.</param>
/// <param name="FeatureSize">Width of the <c>features</c> output, when exported.</param>
/// <param name="HasFeaturesOutput">Whether the graph has a <c>features</c> output.</param>
/// <param name="StageDepths">Blocks per stage; the architecture's own when the file does not say (older exports).</param>
internal sealed record OnnxModelInfo(
    ResNetArchitecture Architecture,
    ResNetVariant Variant,
    IReadOnlyList<string> Labels,
    float[] Mean,
    float[] Std,
    int InputHeight,
    int InputWidth,
    int? FeatureSize,
    bool HasFeaturesOutput,
    IReadOnlyList<int> StageDepths)
{
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Not an ONNX model, or not one of ours (names the missing key).</exception>
    public static OnnxModelInfo Read(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        return Read(File.ReadAllBytes(path), $"'{path}'");
    }

    /// <exception cref="InvalidDataException">Not an ONNX model, or not one of ours (names the missing key).</exception>
    public static OnnxModelInfo Read(byte[] model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Read(model, "The ONNX model bytes");
    }

    private static OnnxModelInfo Read(byte[] bytes, string source)
    {
        ModelProto proto;
        try
        {
            proto = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"{source} is not an ONNX model: {e.Message}", e);
        }

        if (proto.Graph is null)
        {
            throw new InvalidDataException($"{source} is not an ONNX model: it has no graph.");
        }

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in proto.MetadataProps)
        {
            metadata[entry.Key] = entry.Value;
        }

        var reader = new MetadataReader(metadata, source);
        var inputSize = reader.Json<int[]>(OnnxContract.Metadata.InputSize, expectedLength: 2);
        var featureSize = metadata.TryGetValue(OnnxContract.Metadata.FeatureSize, out var feature)
            ? int.Parse(feature, NumberStyles.Integer, CultureInfo.InvariantCulture)
            : (int?)null;
        var architecture = reader.Enum<ResNetArchitecture>(OnnxContract.Metadata.Architecture);
        IReadOnlyList<int> depths = metadata.ContainsKey(OnnxContract.Metadata.StageDepths)
            ? reader.Json<int[]>(OnnxContract.Metadata.StageDepths, expectedLength: ResNetSpec.StageCount)
            : ResNetSpec.DefaultDepths(architecture);
        if (depths.Any(d => d < 1))
        {
            throw new InvalidDataException($"{source}: metadata '{OnnxContract.Metadata.StageDepths}' must hold blocks per stage of at least 1; got [{string.Join(", ", depths)}].");
        }

        return new OnnxModelInfo(
            architecture,
            reader.Enum<ResNetVariant>(OnnxContract.Metadata.Variant),
            reader.Json<string[]>(OnnxContract.Metadata.Labels, expectedLength: null),
            reader.Json<float[]>(OnnxContract.Metadata.Mean, expectedLength: 3),
            reader.Json<float[]>(OnnxContract.Metadata.Std, expectedLength: 3),
            inputSize[0],
            inputSize[1],
            featureSize,
            proto.Graph.Output.Any(o => o.Name == OnnxContract.FeaturesOutput),
            depths);
    }

    private sealed class MetadataReader(Dictionary<string, string> metadata, string source)
    {
        public string Value(string key) =>
            metadata.TryGetValue(key, out var value)
                ? value
                : throw new InvalidDataException(
                    $"{source} is not a {OnnxContract.ProducerName} ResNet model: metadata key '{key}' is missing. "
                    + $"Keys present: {(metadata.Count == 0 ? "none" : string.Join(", ", metadata.Keys))}.");

        public T Enum<T>(string key)
            where T : struct, Enum =>
            System.Enum.TryParse<T>(Value(key), out var parsed) && System.Enum.IsDefined(parsed)
                ? parsed
                : throw new InvalidDataException(
                    $"{source}: metadata '{key}' is '{Value(key)}'; expected one of {string.Join(", ", System.Enum.GetNames<T>())}.");

        public T Json<T>(string key, int? expectedLength)
            where T : class, System.Collections.IList
        {
            var text = Value(key);
            T? parsed;
            try
            {
                parsed = JsonSerializer.Deserialize<T>(text);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{source}: metadata '{key}' is not a JSON {typeof(T).Name}: {text}", e);
            }

            if (parsed is null || (expectedLength is { } length && parsed.Count != length))
            {
                throw new InvalidDataException(
                    $"{source}: metadata '{key}' should be a JSON array{(expectedLength is null ? string.Empty : $" of {expectedLength}")}; got {text}");
            }

            return parsed;
        }
    }
}
