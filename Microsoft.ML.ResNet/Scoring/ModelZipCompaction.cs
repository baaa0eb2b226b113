using System.IO.Compression;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>
/// Rewrites a model zip written by <c>mlContext.Model.Save</c> so that its ONNX entries are stored uncompressed.
/// Deflate gains little on float weights (about 7% on ResNet-34) while inflating them was the largest part of a
/// stock <c>Model.Load</c> (1.4 s of 2.7 s for a ResNet-34, measured by the startup benchmark). A stored entry is
/// plain zip: ML.NET, and any zip reader, opens it as before.
/// </summary>
internal static class ModelZipCompaction
{
    /// <summary>The entry name ML.NET's OnnxTransformer saves its model bytes under (in its transformer's folder).</summary>
    public const string OnnxEntryName = "OnnxModel";

    /// <summary>
    /// Copies the zip in <paramref name="source"/> to <paramref name="target"/>, entry by entry in the same order with the
    /// same names, timestamps and content; entries named <see cref="OnnxEntryName"/> are stored, the others deflated as
    /// ML.NET writes them.
    /// </summary>
    /// <exception cref="InvalidDataException"><paramref name="source"/> is not a zip.</exception>
    public static void StoreOnnxUncompressed(Stream source, Stream target)
    {
        using var input = new ZipArchive(source, ZipArchiveMode.Read, leaveOpen: true);
        using var output = new ZipArchive(target, ZipArchiveMode.Create, leaveOpen: true);
        foreach (var entry in input.Entries)
        {
            var level = entry.Name == OnnxEntryName ? CompressionLevel.NoCompression : CompressionLevel.Optimal;
            var copy = output.CreateEntry(entry.FullName, level);
            copy.LastWriteTime = entry.LastWriteTime;
            using var from = entry.Open();
            using var to = copy.Open();
            from.CopyTo(to);
        }
    }
}
