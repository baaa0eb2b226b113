using System.Buffers.Binary;
using System.Text;

namespace Microsoft.ML.ResNet.Native;

/// <summary>
/// Marks named symbol-version requirements of an ELF64 shared library as weak, so the dynamic
/// loader accepts the library on a system whose libstdc++ lacks those versions.
/// </summary>
/// <remarks>
/// LibTorchSharp 0.107.0 is linked with GCC 13, which records a need for GLIBCXX_3.4.32 only
/// through the marker symbol <c>std::ios_base_library_init</c>. Nothing calls that symbol, so
/// a weak requirement (VER_FLG_WEAK) is exactly what the library really needs.
/// </remarks>
internal static class ElfVersionPatcher
{
    private const uint SectionTypeVersionNeeds = 0x6ffffffe; // SHT_GNU_verneed
    private const ushort VersionFlagWeak = 0x2;              // VER_FLG_WEAK

    /// <summary>Returns a copy of <paramref name="elf"/> with the named versions made weak.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a little-endian ELF64 file with a
    /// version-needs section, or none of <paramref name="versionNames"/> is required by it.</exception>
    public static byte[] WeakenVersionNeeds(ReadOnlySpan<byte> elf, IReadOnlyCollection<string> versionNames)
    {
        var image = elf.ToArray();
        var sections = ReadSectionHeaders(image);
        var needs = sections.FirstOrDefault(s => s.Type == SectionTypeVersionNeeds);
        if (needs.Type == 0)
        {
            throw new InvalidDataException("The library has no .gnu.version_r section to patch.");
        }

        var strings = sections[(int)needs.Link];
        var weakened = 0;
        var needOffset = (int)needs.Offset;
        while (true)
        {
            var auxCount = BinaryPrimitives.ReadUInt16LittleEndian(image.AsSpan(needOffset + 2));
            var auxOffset = needOffset + (int)BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(needOffset + 8));
            for (var i = 0; i < auxCount; i++)
            {
                var nameOffset = BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(auxOffset + 8));
                if (versionNames.Contains(ReadCString(image, (int)(strings.Offset + nameOffset))))
                {
                    var flags = image.AsSpan(auxOffset + 4);
                    BinaryPrimitives.WriteUInt16LittleEndian(flags, (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(flags) | VersionFlagWeak));
                    weakened++;
                }

                auxOffset += (int)BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(auxOffset + 12));
            }

            var next = BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(needOffset + 12));
            if (next == 0)
            {
                break;
            }

            needOffset += (int)next;
        }

        if (weakened == 0)
        {
            throw new InvalidDataException(
                $"None of the versions {string.Join(", ", versionNames)} is required by the library; nothing to patch.");
        }

        return image;
    }

    private static List<SectionHeader> ReadSectionHeaders(byte[] image)
    {
        if (image.Length < 64 || image[0] != 0x7f || image[1] != (byte)'E' || image[2] != (byte)'L' || image[3] != (byte)'F')
        {
            throw new InvalidDataException("Not an ELF file.");
        }

        if (image[4] != 2 || image[5] != 1)
        {
            throw new InvalidDataException($"Only little-endian ELF64 is supported (class {image[4]}, data {image[5]}).");
        }

        var tableOffset = (long)BinaryPrimitives.ReadUInt64LittleEndian(image.AsSpan(0x28));
        var entrySize = BinaryPrimitives.ReadUInt16LittleEndian(image.AsSpan(0x3a));
        var count = BinaryPrimitives.ReadUInt16LittleEndian(image.AsSpan(0x3c));
        var headers = new List<SectionHeader>(count);
        for (var i = 0; i < count; i++)
        {
            var header = image.AsSpan((int)(tableOffset + (i * entrySize)));
            headers.Add(new SectionHeader(
                Type: BinaryPrimitives.ReadUInt32LittleEndian(header[4..]),
                Offset: (long)BinaryPrimitives.ReadUInt64LittleEndian(header[0x18..]),
                Link: BinaryPrimitives.ReadUInt32LittleEndian(header[0x28..])));
        }

        return headers;
    }

    private static string ReadCString(byte[] image, int offset)
    {
        var end = Array.IndexOf(image, (byte)0, offset);
        return Encoding.ASCII.GetString(image, offset, end - offset);
    }

    private readonly record struct SectionHeader(uint Type, long Offset, uint Link);
}
