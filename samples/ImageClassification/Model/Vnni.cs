namespace ImageClassification.Model;

/// <summary>Whether this CPU has VNNI, the 8-bit dot product ONNX Runtime's INT8 convolutions are fast with.</summary>
internal static class Vnni
{
    /// <summary>The VNNI flags /proc/cpuinfo lists (avx512_vnni, avx_vnni); empty when none or not on Linux.</summary>
    public static IReadOnlyList<string> Flags { get; } = ReadFlags();

    public static bool Present => Flags.Count > 0;

    private static string[] ReadFlags()
    {
        const string cpuinfo = "/proc/cpuinfo";
        var flags = File.Exists(cpuinfo)
            ? File.ReadLines(cpuinfo).FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal))?.Split(':', 2)[1]
            : null;
        return flags?.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(f => f is "avx512_vnni" or "avx_vnni").ToArray() ?? [];
    }
}
