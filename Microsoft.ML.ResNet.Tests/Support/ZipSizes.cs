using System.Buffers.Binary;
using System.Text;

namespace Microsoft.ML.ResNet.Tests.Support;

/// <summary>Makes a zip lie: rewrites an entry's declared uncompressed size in its local and central headers.</summary>
internal static class ZipSizes
{
    private const uint LocalHeader = 0x04034b50;
    private const uint CentralHeader = 0x02014b50;

    public static void Declare(string zipPath, string entryName, uint uncompressedSize)
    {
        var bytes = File.ReadAllBytes(zipPath);
        var name = Encoding.UTF8.GetBytes(entryName);
        var patched = 0;
        for (var i = 0; i + 46 < bytes.Length; i++)
        {
            var signature = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(i));
            if (signature == LocalHeader && Matches(bytes, i + 30, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(i + 26)), name))
            {
                BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(i + 22), uncompressedSize);
                patched++;
            }
            else if (signature == CentralHeader && Matches(bytes, i + 46, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(i + 28)), name))
            {
                BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(i + 24), uncompressedSize);
                patched++;
            }
        }

        Assert.AreEqual(2, patched, $"entry '{entryName}' should have one local and one central header in '{zipPath}'");
        File.WriteAllBytes(zipPath, bytes);
    }

    private static bool Matches(byte[] bytes, int offset, int length, byte[] name) =>
        length == name.Length && offset + length <= bytes.Length && bytes.AsSpan(offset, length).SequenceEqual(name);
}
