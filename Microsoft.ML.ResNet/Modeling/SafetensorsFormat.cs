using System.Buffers.Binary;
using System.Text.Json;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Modeling;

/// <summary>
/// Writes safetensors files with what the network is in their <c>__metadata__</c>, and reads that metadata back
/// (PyBridge reads the tensors).
/// </summary>
/// <remarks>
/// Layout: an 8-byte little-endian header length, the JSON header (padded with spaces to a multiple of 8, as the
/// reference writer does), then the tensors' bytes back to back in header order. Metadata values are strings by the
/// format's rule; lists are JSON inside them. The keys are the ones our ONNX files use for the same facts.
/// </remarks>
internal static class SafetensorsFormat
{
    public const string ArchitectureKey = "resnet.architecture";
    public const string VariantKey = "resnet.variant";
    public const string StageDepthsKey = "resnet.stage_depths";
    public const string LabelsKey = "resnet.labels";
    public const string MeanKey = "resnet.mean";
    public const string StdKey = "resnet.std";
    private const string MetadataEntry = "__metadata__";

    /// <summary>Writes <paramref name="tensors"/> and <paramref name="metadata"/> to <paramref name="stream"/>.</summary>
    public static void Write(Stream stream, IReadOnlyList<WeightsTensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        var header = new Dictionary<string, object>(StringComparer.Ordinal) { [MetadataEntry] = metadata };
        var offset = 0L;
        foreach (var tensor in tensors)
        {
            header[tensor.Name] = new Dictionary<string, object>
            {
                ["dtype"] = DTypeName(tensor),
                ["shape"] = tensor.Shape,
                ["data_offsets"] = new[] { offset, offset + tensor.Data.Length },
            };
            offset += tensor.Data.Length;
        }

        var json = JsonSerializer.SerializeToUtf8Bytes(header);
        var padded = (json.Length + 7) / 8 * 8;
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)padded);
        stream.Write(length);
        stream.Write(json);
        for (var i = json.Length; i < padded; i++)
        {
            stream.WriteByte((byte)' ');
        }

        foreach (var tensor in tensors)
        {
            stream.Write(tensor.Data);
        }
    }

    /// <summary>The metadata that describes <paramref name="weights"/>' network.</summary>
    public static Dictionary<string, string> Describe(NetworkWeights weights)
    {
        var spec = weights.Spec;
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["format"] = "pt",
            [ArchitectureKey] = spec.Architecture.ToString(),
            [VariantKey] = spec.Variant.ToString(),
            [LabelsKey] = JsonSerializer.Serialize(weights.Labels),
        };
        if (weights.Normalization is { } normalization)
        {
            metadata[MeanKey] = JsonSerializer.Serialize(normalization.Mean);
            metadata[StdKey] = JsonSerializer.Serialize(normalization.Std);
        }

        if (spec.HasCustomDepths)
        {
            metadata[StageDepthsKey] = JsonSerializer.Serialize(spec.BlocksPerStage);
        }

        return metadata;
    }

    /// <summary>
    /// What a file's metadata says about its network: the header (architecture, variant, labels, depths) and the
    /// normalization, or nulls when the file was not written by us (no <see cref="ArchitectureKey"/>).
    /// Call after <see cref="ForeignWeightsCheck.CheckSafetensors"/>, which bounds the header.
    /// </summary>
    /// <exception cref="InvalidDataException">Our keys are present but a value is unreadable; the message names the file and key.</exception>
    public static (WeightsHeader? Header, ImageNormalization? Normalization) ReadDescription(string path)
    {
        var metadata = ReadMetadata(path);
        if (metadata is null || !metadata.TryGetValue(ArchitectureKey, out var architectureName))
        {
            return (null, null);
        }

        var architecture = ParseEnum<ResNetArchitecture>(path, ArchitectureKey, architectureName);
        var variant = metadata.TryGetValue(VariantKey, out var variantName) ? ParseEnum<ResNetVariant>(path, VariantKey, variantName) : ResNetVariant.TorchVision;
        var labels = Json<string[]>(path, metadata, LabelsKey)
            ?? throw new InvalidDataException($"Safetensors file '{path}' names its architecture ({architectureName}) but has no '{LabelsKey}' metadata.");
        if (labels.Length == 0 || labels.Any(string.IsNullOrEmpty))
        {
            throw new InvalidDataException($"Safetensors file '{path}': metadata '{LabelsKey}' must list one non-empty label per class; got {metadata[LabelsKey]}.");
        }

        var depths = Json<int[]>(path, metadata, StageDepthsKey);
        if (depths is not null && (depths.Length != ResNetSpec.StageCount || depths.Any(d => d < 1)))
        {
            throw new InvalidDataException($"Safetensors file '{path}': metadata '{StageDepthsKey}' is {metadata[StageDepthsKey]}, expected {ResNetSpec.StageCount} block counts of at least 1.");
        }

        var header = new WeightsHeader(architecture, variant, labels.Length, labels) { StageDepths = depths };
        var mean = Json<float[]>(path, metadata, MeanKey);
        var std = Json<float[]>(path, metadata, StdKey);
        if (mean is null || std is null)
        {
            return (header, null);
        }

        if (mean.Length != 3 || std.Length != 3 || std.Any(s => !(s > 0)))
        {
            throw new InvalidDataException($"Safetensors file '{path}': metadata '{MeanKey}'/'{StdKey}' are {metadata[MeanKey]} / {metadata[StdKey]}, expected 3 values each (RGB), std above 0.");
        }

        return (header, new ImageNormalization(mean, std));
    }

    private static Dictionary<string, string>? ReadMetadata(string path)
    {
        using var stream = File.OpenRead(path);
        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        var json = new byte[BinaryPrimitives.ReadUInt64LittleEndian(prefix)];
        stream.ReadExactly(json);
        using var document = JsonDocument.Parse(json);
        if (!document.RootElement.TryGetProperty(MetadataEntry, out var metadata))
        {
            return null;
        }

        if (metadata.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"Safetensors file '{path}': '{MetadataEntry}' is a {metadata.ValueKind}, expected an object of strings.");
        }

        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var property in metadata.EnumerateObject())
        {
            if (property.Value.ValueKind == JsonValueKind.String)
            {
                values[property.Name] = property.Value.GetString()!;
            }
        }

        return values;
    }

    private static T ParseEnum<T>(string path, string key, string value)
        where T : struct, Enum =>
        Enum.TryParse<T>(value, ignoreCase: false, out var parsed) && Enum.IsDefined(parsed)
            ? parsed
            : throw new InvalidDataException($"Safetensors file '{path}': metadata '{key}' is '{value}', expected one of {string.Join(", ", Enum.GetNames<T>())}.");

    private static T? Json<T>(string path, Dictionary<string, string> metadata, string key)
        where T : class
    {
        if (!metadata.TryGetValue(key, out var json))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<T>(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Safetensors file '{path}': metadata '{key}' is not valid JSON of the expected kind: {json}", e);
        }
    }

    private static string DTypeName(WeightsTensor tensor) => tensor.Type switch
    {
        ScalarType.Float32 => "F32",
        ScalarType.Int64 => "I64",
        _ => throw new NotSupportedException($"State-dict entry '{tensor.Name}' is {tensor.Type}; safetensors files are written from float32 and int64 tensors."),
    };
}
