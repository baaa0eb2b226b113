using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Modeling;

/// <summary>
/// Our weight file: the magic "RESNETML", a format version, a JSON header (architecture, variant, stage depths,
/// labels, tensor names, shapes and types, SHA-256 of the data) and the raw little-endian tensor data.
/// </summary>
/// <remarks>
/// Unlike a bare state dict, the file says which network and which labels it belongs to, and the
/// checksum turns a truncated or damaged file into a clear error instead of silently wrong weights.
/// </remarks>
internal static class NativeWeightsFormat
{
    public const string Extension = ".resnet";
    /// <summary>Version 2 added <see cref="WeightsHeader.StageDepths"/>; version 1 files (no depths) still read.</summary>
    private const int Version = 2;
    private const int OldestReadableVersion = 1;
    private static readonly byte[] Magic = "RESNETML"u8.ToArray();
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>True when the bytes start like one of our files.</summary>
    public static bool Recognizes(ReadOnlySpan<byte> start) => start.StartsWith(Magic);

    /// <summary>Writes <paramref name="tensors"/> with the header to <paramref name="stream"/>.</summary>
    public static void Write(Stream stream, WeightsHeader header, IReadOnlyDictionary<string, Tensor> tensors)
    {
        var entries = new List<TensorEntry>(tensors.Count);
        using var data = new MemoryStream();
        foreach (var (name, tensor) in tensors)
        {
            using var contiguous = tensor.detach().cpu().contiguous();
            var bytes = contiguous.bytes;
            entries.Add(new TensorEntry(name, contiguous.shape, DTypeName(contiguous.dtype, name), bytes.Length));
            data.Write(bytes);
        }

        var fullHeader = header with { Tensors = entries, Sha256 = Convert.ToHexString(SHA256.HashData(data.GetBuffer().AsSpan(0, (int)data.Length))) };
        var json = JsonSerializer.SerializeToUtf8Bytes(fullHeader, Json);
        Span<byte> prefix = stackalloc byte[8];
        stream.Write(Magic);
        BinaryPrimitives.WriteInt32LittleEndian(prefix, Version);
        BinaryPrimitives.WriteInt32LittleEndian(prefix[4..], json.Length);
        stream.Write(prefix);
        stream.Write(json);
        data.Position = 0;
        data.CopyTo(stream);
    }

    /// <summary>Reads a whole file; the caller disposes the returned tensors.</summary>
    /// <exception cref="InvalidDataException">The file is truncated, damaged or of another version;
    /// the message names the file and what is wrong.</exception>
    public static (WeightsHeader Header, Dictionary<string, Tensor> Tensors) Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var header = ReadHeader(bytes, path, out var dataStart);
        var data = bytes.AsSpan(dataStart);
        var expectedLength = CheckedDataLength(header, path);
        if (data.Length != expectedLength)
        {
            throw new InvalidDataException($"Weights file '{path}' is truncated or padded: the header lists {expectedLength} bytes of tensor data, the file holds {data.Length}.");
        }

        if (!string.Equals(Convert.ToHexString(SHA256.HashData(data)), header.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidDataException($"Weights file '{path}' is damaged: the SHA-256 of its tensor data does not match its header.");
        }

        var tensors = new Dictionary<string, Tensor>(header.Tensors.Count);
        var offset = 0;
        foreach (var entry in header.Tensors)
        {
            var tensor = empty(entry.Shape, ScalarTypeOf(entry, path));
            tensor.bytes = data.Slice(offset, (int)entry.ByteLength);
            tensors.Add(entry.Name, tensor);
            offset += (int)entry.ByteLength;
        }

        return (header, tensors);
    }

    /// <summary>Reads only the header (architecture, labels) without the tensor data.</summary>
    /// <exception cref="InvalidDataException">The file is too short, or its header is damaged.</exception>
    public static WeightsHeader ReadHeader(string path)
    {
        using var stream = File.OpenRead(path);
        var prefix = new byte[16];
        if (stream.ReadAtLeast(prefix, prefix.Length, throwOnEndOfStream: false) < prefix.Length)
        {
            throw new InvalidDataException($"'{path}' is not a ResNetMl weights file: it has {stream.Length} bytes, fewer than the 16-byte prefix.");
        }

        var jsonLength = BinaryPrimitives.ReadInt32LittleEndian(prefix.AsSpan(12));
        var buffer = new byte[16 + Math.Max(0, Math.Min(jsonLength, (int)Math.Min(int.MaxValue - 16, stream.Length - 16)))];
        prefix.CopyTo(buffer, 0);
        stream.ReadExactly(buffer, 16, buffer.Length - 16);
        return ReadHeader(buffer, path, out _);
    }

    private static WeightsHeader ReadHeader(byte[] bytes, string path, out int dataStart)
    {
        if (bytes.Length < 16 || !Recognizes(bytes))
        {
            throw new InvalidDataException($"'{path}' is not a ResNetMl weights file (it does not start with \"RESNETML\").");
        }

        var version = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8));
        if (version is < OldestReadableVersion or > Version)
        {
            throw new InvalidDataException($"Weights file '{path}' has format version {version}; this library reads versions {OldestReadableVersion} to {Version}.");
        }

        var jsonLength = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(12));
        if (jsonLength <= 0 || 16L + jsonLength > bytes.Length)
        {
            throw new InvalidDataException($"Weights file '{path}' is truncated: its header claims {jsonLength} bytes, {bytes.Length - 16} remain.");
        }

        dataStart = 16 + jsonLength;
        try
        {
            return JsonSerializer.Deserialize<WeightsHeader>(Encoding.UTF8.GetString(bytes, 16, jsonLength), Json)
                ?? throw new InvalidDataException($"Weights file '{path}' has an empty header.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Weights file '{path}' has a damaged header: {e.Message}", e);
        }
    }

    /// <summary>
    /// The data length the header's tensor list implies, with every entry checked first (shape, type, byte length
    /// agree; nothing negative; no overflow): tensors are allocated from these numbers.
    /// </summary>
    private static long CheckedDataLength(WeightsHeader header, string path)
    {
        var total = 0L;
        foreach (var entry in header.Tensors ?? [])
        {
            if (entry is null || entry.Name is null || entry.Shape is null)
            {
                throw new InvalidDataException($"Weights file '{path}' has a damaged header: a tensor entry lacks its name or shape.");
            }

            var elementSize = ScalarTypeOf(entry, path) == ScalarType.Float32 ? 4L : 8L;
            try
            {
                var elements = 1L;
                foreach (var dimension in entry.Shape)
                {
                    if (dimension < 0)
                    {
                        throw new InvalidDataException($"Weights file '{path}': tensor '{entry.Name}' has shape [{string.Join(", ", entry.Shape)}]; dimensions cannot be negative.");
                    }

                    elements = checked(elements * dimension);
                }

                if (entry.ByteLength != checked(elements * elementSize))
                {
                    throw new InvalidDataException(
                        $"Weights file '{path}': tensor '{entry.Name}' ({entry.DType}, shape [{string.Join(", ", entry.Shape)}]) needs {elements * elementSize} bytes but its header says {entry.ByteLength}.");
                }

                total = checked(total + entry.ByteLength);
            }
            catch (OverflowException)
            {
                throw new InvalidDataException($"Weights file '{path}': tensor '{entry.Name}' declares a size that overflows 64 bits (shape [{string.Join(", ", entry.Shape)}]).");
            }
        }

        return total;
    }

    private static string DTypeName(ScalarType type, string name) => type switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.Int64 => "int64",
        _ => throw new NotSupportedException($"Tensor '{name}' is {type}; the weights format stores float32 and int64."),
    };

    private static ScalarType ScalarTypeOf(TensorEntry entry, string path) => entry.DType switch
    {
        "float32" => ScalarType.Float32,
        "int64" => ScalarType.Int64,
        _ => throw new InvalidDataException($"Weights file '{path}': tensor '{entry.Name}' has unknown type '{entry.DType}'."),
    };
}

/// <summary>What our weight file says about the network it belongs to.</summary>
internal sealed record WeightsHeader(
    ResNetArchitecture Architecture,
    ResNetVariant Variant,
    int NumClasses,
    IReadOnlyList<string> Labels)
{
    /// <summary>Blocks per stage when they differ from the architecture's own; null otherwise (and in version 1 files).</summary>
    public IReadOnlyList<int>? StageDepths { get; init; }

    public IReadOnlyList<TensorEntry> Tensors { get; init; } = [];

    public string Sha256 { get; init; } = "";
}

/// <summary>One tensor's place in the data section.</summary>
internal sealed record TensorEntry(string Name, long[] Shape, string DType, long ByteLength);
