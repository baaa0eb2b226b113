using System.Buffers.Binary;
using System.IO.Compression;
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

    /// <summary>One saved classifier.</summary>
    /// <param name="Path">Indices from the root chain down to our saved sub-chain; empty when the whole model is ours.</param>
    /// <param name="Onnx">The saved (rewritten) ONNX bytes.</param>
    /// <param name="Settings">Column names and scoring options as saved.</param>
    public sealed record Entry(int[] Path, byte[] Onnx, SavedScoringSettings Settings);

    /// <exception cref="FileNotFoundException">No file at <paramref name="zipPath"/>.</exception>
    /// <exception cref="InvalidDataException">Not a zip, or a truncated ONNX entry.</exception>
    public static IReadOnlyList<Entry> Read(string zipPath)
    {
        if (!File.Exists(zipPath))
        {
            throw new FileNotFoundException($"No model file at '{zipPath}'.", zipPath);
        }

        using var zip = ZipFile.OpenRead(zipPath);
        var found = new List<Entry>();
        foreach (var entry in zip.Entries.Where(e => e.Name == OnnxEntryName))
        {
            var bytes = ReadOnnx(entry);
            var model = ModelProto.Parser.ParseFrom(bytes);
            var settings = model.MetadataProps.FirstOrDefault(p => p.Key == SavedScoringSettings.MetadataKey);
            if (settings is not null)
            {
                found.Add(new Entry(ChainPath(entry.FullName), bytes, SavedScoringSettings.FromJson(settings.Value)));
            }
        }

        return found;
    }

    private static byte[] ReadOnnx(ZipArchiveEntry entry)
    {
        // OnnxTransformer writes the model as a byte array with ML.NET's int32 length prefix.
        using var stream = entry.Open();
        Span<byte> prefix = stackalloc byte[4];
        stream.ReadExactly(prefix);
        var length = BinaryPrimitives.ReadInt32LittleEndian(prefix);
        if (length < 0 || length != entry.Length - 4)
        {
            throw new InvalidDataException($"Entry '{entry.FullName}' declares {length} bytes of ONNX but holds {entry.Length - 4}.");
        }

        var bytes = new byte[length];
        stream.ReadExactly(bytes);
        return bytes;
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
