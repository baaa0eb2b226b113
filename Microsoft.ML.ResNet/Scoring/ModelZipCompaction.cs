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
    /// ML.NET writes them. An ONNX entry holding a stub of <paramref name="deferred"/> gets the real network instead.
    /// </summary>
    /// <exception cref="InvalidDataException"><paramref name="source"/> is not a zip.</exception>
    /// <exception cref="InvalidOperationException">A deferred network's stub is not in the zip.</exception>
    public static void StoreOnnxUncompressed(Stream source, Stream target, DeferredNetworks? deferred = null)
    {
        using var input = new ZipArchive(source, ZipArchiveMode.Read, leaveOpen: true);
        using var output = new ZipArchive(target, ZipArchiveMode.Create, leaveOpen: true);
        foreach (var entry in input.Entries)
        {
            var isOnnx = entry.Name == OnnxEntryName;
            var copy = output.CreateEntry(entry.FullName, isOnnx ? CompressionLevel.NoCompression : CompressionLevel.Optimal);
            copy.LastWriteTime = entry.LastWriteTime;
            using var from = entry.Open();
            using var to = copy.Open();
            if (isOnnx && deferred is not null)
            {
                var content = ReadAll(from, entry.Length);
                if (deferred.Take(content) is { } network)
                {
                    // OnnxTransformer writes its model as a byte array: an Int32 length, then the bytes.
                    to.Write(BitConverter.GetBytes(network.Length));
                    to.Write(network);
                }
                else
                {
                    to.Write(content);
                }
            }
            else
            {
                from.CopyTo(to);
            }
        }

        deferred?.ThrowIfAnyPending();
    }

    private static byte[] ReadAll(Stream stream, long length)
    {
        var bytes = new byte[length];
        stream.ReadExactly(bytes);
        return bytes;
    }
}
