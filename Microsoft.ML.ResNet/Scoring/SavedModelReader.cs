using System.Buffers.Binary;
using System.IO.Compression;
using Google.Protobuf;
using Microsoft.ML.ResNet.Native;
using Onnx;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>
/// Finds our classifiers inside an ML.NET model zip: the OnnxTransformer entries whose graph carries
/// <see cref="SavedScoringSettings.MetadataKey"/>, with where their chain sits in the saved tree.
/// </summary>
internal static class SavedModelReader
{
    private const string OnnxEntryName = "OnnxModel";
    private const string ChainDirectory = "TransformerChain";

    // How many times the zip's own size a network's declared length may be and still be read into one array at once.
    private const long TrustedInflation = 4;

    /// <summary>One saved classifier.</summary>
    /// <param name="Path">Indices from the root chain down to our saved sub-chain; empty when the whole model is ours.</param>
    /// <param name="Onnx">The saved (rewritten) ONNX bytes.</param>
    /// <param name="Settings">Column names and scoring options as saved.</param>
    /// <param name="Source">The zip and the entry, for error messages.</param>
    /// <param name="EntryName">The zip entry holding the ONNX bytes.</param>
    /// <param name="Inputs">The graph's declared inputs.</param>
    /// <param name="Outputs">The graph's declared outputs.</param>
    public sealed record Entry(int[] Path, byte[] Onnx, SavedScoringSettings Settings, string Source, string EntryName, IReadOnlyList<ValueInfoProto> Inputs, IReadOnlyList<ValueInfoProto> Outputs);

    /// <exception cref="FileNotFoundException">No file at <paramref name="zipPath"/>.</exception>
    /// <exception cref="InvalidDataException">Not a zip, an ONNX entry whose sizes disagree (declared, actual,
    /// length prefix) or that is not ONNX; the message names the file and the entry.</exception>
    public static IReadOnlyList<Entry> Read(string zipPath)
    {
        if (!File.Exists(zipPath))
        {
            throw new FileNotFoundException($"No model file at '{zipPath}'.", zipPath);
        }

        var zipLength = new FileInfo(zipPath).Length;
        using var zip = OpenZip(zipPath);
        var found = new List<Entry>();
        foreach (var entry in zip.Entries.Where(e => e.Name == OnnxEntryName))
        {
            var source = $"{zipPath} (entry {entry.FullName})";
            var bytes = ReadOnnx(entry, zipLength, source);
            Header header;
            try
            {
                header = ReadHeader(bytes);
            }
            catch (Exception e) when (e is InvalidProtocolBufferException or InvalidDataException)
            {
                throw new InvalidDataException($"'{source}' is not an ONNX model: {e.Message}", e);
            }

            var settings = header.Metadata.FirstOrDefault(p => p.Key == SavedScoringSettings.MetadataKey);
            if (settings is not null)
            {
                found.Add(new Entry(ChainPath(entry.FullName), bytes, SavedScoringSettings.FromJson(settings.Value), source, entry.FullName, header.Inputs, header.Outputs));
            }
        }

        return found;
    }

    /// <summary>
    /// A copy of the zip, in memory and uncompressed, in which each entry named in <paramref name="replacements"/>
    /// holds other ONNX bytes (with ML.NET's length prefix); every other entry is copied as it is.
    /// </summary>
    /// <exception cref="InvalidDataException">Not a zip.</exception>
    public static MemoryStream WithReplacedOnnx(string zipPath, IReadOnlyDictionary<string, byte[]> replacements)
    {
        var copy = new MemoryStream();
        using (var source = OpenZip(zipPath))
        using (var target = new ZipArchive(copy, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var entry in source.Entries)
            {
                using var output = target.CreateEntry(entry.FullName, CompressionLevel.NoCompression).Open();
                if (replacements.TryGetValue(entry.FullName, out var onnx))
                {
                    var prefix = new byte[4];
                    BinaryPrimitives.WriteInt32LittleEndian(prefix, onnx.Length);
                    output.Write(prefix);
                    output.Write(onnx);
                }
                else
                {
                    using var input = entry.Open();
                    input.CopyTo(output);
                }
            }
        }

        copy.Position = 0;
        return copy;
    }

    private sealed record Header(List<StringStringEntryProto> Metadata, List<ValueInfoProto> Inputs, List<ValueInfoProto> Outputs);

    /// <summary>
    /// ModelProto's metadata_props and the graph's declared inputs and outputs only: the graph's nodes and
    /// initializers (all the weights) are skipped, not parsed and copied, which a full parse of ResNet-34's 87 MB
    /// would do once more before ONNX Runtime reads it again.
    /// </summary>
    private static Header ReadHeader(byte[] onnx)
    {
        var header = new Header([], [], []);
        var input = new CodedInputStream(onnx);
        ReadFields(input, onnx.Length, field =>
        {
            switch (field)
            {
                case ModelProto.MetadataPropsFieldNumber:
                    header.Metadata.Add(ReadMessage<StringStringEntryProto>(input));
                    return true;
                case ModelProto.GraphFieldNumber:
                    ReadSignature(input, header);
                    return true;
                default:
                    return false;
            }
        });
        return header;
    }

    private static void ReadSignature(CodedInputStream input, Header header)
    {
        var end = input.ReadLength() + input.Position;
        ReadFields(input, end, field =>
        {
            switch (field)
            {
                case GraphProto.InputFieldNumber:
                    header.Inputs.Add(ReadMessage<ValueInfoProto>(input));
                    return true;
                case GraphProto.OutputFieldNumber:
                    header.Outputs.Add(ReadMessage<ValueInfoProto>(input));
                    return true;
                default:
                    return false;
            }
        });
        if (input.Position != end)
        {
            throw new InvalidDataException($"the graph's fields run {input.Position - end} bytes past its declared length");
        }
    }

    /// <summary>Walks the fields up to <paramref name="end"/>: <paramref name="read"/> reads a length-delimited field it
    /// wants (given its number) and says so; every other field is skipped unread.</summary>
    private static void ReadFields(CodedInputStream input, long end, Func<int, bool> read)
    {
        while (input.Position < end)
        {
            var tag = input.ReadTag();
            if (WireFormat.GetTagWireType(tag) != WireFormat.WireType.LengthDelimited || !read(WireFormat.GetTagFieldNumber(tag)))
            {
                input.SkipLastField();
            }
        }
    }

    private static T ReadMessage<T>(CodedInputStream input)
        where T : IMessage, new()
    {
        var message = new T();
        input.ReadMessage(message);
        return message;
    }

    private static ZipArchive OpenZip(string zipPath)
    {
        try
        {
            return ZipFile.OpenRead(zipPath);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"'{zipPath}' is not a model zip: {e.Message}", e);
        }
    }

    private static byte[] ReadOnnx(ZipArchiveEntry entry, long zipLength, string source)
    {
        // OnnxTransformer writes the model as a byte array with ML.NET's int32 length prefix. Every size here
        // (the prefix, the zip's declared length) is a claim of the file. A claim up to a few times the file's size is
        // read into one array of that size: SaveAtomically stores the network, and mlContext.Model.Save deflates float
        // weights by 7%, so real claims are far below that bound. Read through a growing buffer, a deflated 87 MB
        // network paged in four times its size: the first answer from such a zip took 1.77 s on an AMD EPYC family 26
        // VM (11 us a fresh page), 1.06 s read at once. A larger claim grows only with bytes actually read, so a
        // lying size costs an error, not its claimed gigabytes.
        try
        {
            using var stream = entry.Open();
            Span<byte> prefix = stackalloc byte[4];
            stream.ReadExactly(prefix);
            var length = BinaryPrimitives.ReadInt32LittleEndian(prefix);
            if (length < 0 || length != entry.Length - 4)
            {
                throw new InvalidDataException($"'{source}' declares {length} bytes of ONNX but the zip lists {entry.Length - 4}.");
            }

            var (bytes, read) = length <= zipLength * TrustedInflation ? ReadInOne(stream, length) : ReadGrowing(stream, length);
            if (read != length)
            {
                throw new InvalidDataException($"'{source}' declares {length} bytes of ONNX but holds {(read > length ? "more" : read.ToString(System.Globalization.CultureInfo.InvariantCulture))}.");
            }

            return bytes;
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"'{source}' is truncated: {e.Message}", e);
        }
        catch (InvalidDataException e) when (!e.Message.Contains(source, StringComparison.Ordinal))
        {
            // The zip reader's own errors (bad deflate data, a CRC or size mismatch) name no file.
            throw new InvalidDataException($"'{source}' is damaged: {e.Message}", e);
        }
    }

    /// <summary>The stream's bytes into one array of <paramref name="length"/>; the count read is over it when more follow.</summary>
    private static (byte[] Bytes, long Read) ReadInOne(Stream stream, int length)
    {
        var bytes = HugePageArray.Allocate(length);
        var read = stream.ReadAtLeast(bytes, length, throwOnEndOfStream: false);
        return (bytes, read == length && stream.ReadByte() >= 0 ? length + 1L : read);
    }

    /// <summary>At most <paramref name="length"/> + 1 of the stream's bytes, buffered as they arrive.</summary>
    private static (byte[] Bytes, long Read) ReadGrowing(Stream stream, int length)
    {
        using var bytes = new MemoryStream();
        var chunk = new byte[1 << 20];
        int read;
        while ((read = stream.Read(chunk, 0, (int)Math.Min(chunk.Length, length + 1L - bytes.Length))) > 0)
        {
            bytes.Write(chunk, 0, read);
        }

        return (bytes.Length == bytes.Capacity ? bytes.GetBuffer() : bytes.ToArray(), bytes.Length);
    }

    private static int[] ChainPath(string entryName)
    {
        // e.g. TransformerChain/Transform_003/Transform_000/OnnxModel: the OnnxTransformer is element 0
        // of our chain, which is element 3 of the root chain.
        var parts = entryName.Split('/');
        if (parts.Length < 3 || parts[0] != ChainDirectory)
        {
            throw new InvalidDataException($"Unexpected place for a saved classifier: '{entryName}'.");
        }

        return parts[1..^2].Select(p => int.Parse(p["Transform_".Length..], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }
}
