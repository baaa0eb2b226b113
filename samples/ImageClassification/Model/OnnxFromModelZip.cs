using System.IO.Compression;
using Microsoft.ML.OnnxRuntime;

namespace ImageClassification.Model;

/// <summary>
/// Writes the ONNX network stored inside a saved ML.NET model zip to its own file. ML.NET's OnnxTransformer keeps
/// the model bytes in an entry named <c>OnnxModel</c> (a 4-byte little-endian length, then the bytes); our
/// classifier saves through it, so <c>model.onnx</c> is exactly the network <c>model.zip</c> scores with.
/// </summary>
internal static class OnnxFromModelZip
{
    private const string EntryName = "OnnxModel";

    /// <summary>Extracts the network of <paramref name="modelZip"/> to <paramref name="onnxPath"/> (atomically) and describes it.</summary>
    /// <exception cref="InvalidDataException">The zip holds no ONNX model, or more than one.</exception>
    public static string Extract(string modelZip, string onnxPath)
    {
        using var archive = ZipFile.OpenRead(modelZip);
        var entries = archive.Entries.Where(e => e.Name == EntryName).ToList();
        if (entries.Count != 1)
        {
            throw new InvalidDataException(
                $"Model '{modelZip}' holds {entries.Count} ONNX models ('{EntryName}' entries); expected exactly one (a ResNet classifier saved by this app).");
        }

        Commands.AtomicFile.Write(onnxPath, temp =>
        {
            using var source = entries[0].Open();
            using var reader = new BinaryReader(source);
            var length = reader.ReadInt32();
            using var target = File.Create(temp);
            source.CopyTo(target);
            if (target.Length != length)
            {
                throw new InvalidDataException($"The ONNX entry of '{modelZip}' says {length} bytes but holds {target.Length}.");
            }
        });
        return Describe(onnxPath);
    }

    /// <summary>Opens the file with ONNX Runtime (proving it loads) and lists its inputs and outputs.</summary>
    public static string Describe(string onnxPath)
    {
        using var session = new InferenceSession(onnxPath);
        static string Shape(NodeMetadata m) => string.Join('x', m.Dimensions.Select(d => d < 0 ? "N" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var inputs = string.Join(", ", session.InputMetadata.Select(i => $"{i.Key} [{Shape(i.Value)}]"));
        var outputs = string.Join(", ", session.OutputMetadata.Select(o => $"{o.Key} [{Shape(o.Value)}]"));
        return $"inputs {inputs}; outputs {outputs}";
    }
}
