namespace ResNetBenchmarks;

/// <summary>What a benchmark prints about the CPU it ran on: figures from these machines are only comparable per CPU.</summary>
internal static class CpuInfo
{
    private const string CpuInfoPath = "/proc/cpuinfo";

    // The features that decide which kernels oneDNN and ONNX Runtime pick for these benchmarks.
    private static readonly string[] RelevantFlags = ["avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8"];

    /// <summary>The "model name" line of /proc/cpuinfo (Linux), else the architecture.</summary>
    public static string ModelName => Field("model name") ?? System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();

    /// <summary>"CPU: name (N logical cores; flags ...)" with the relevant features present.</summary>
    public static string Summary =>
        $"CPU: {ModelName} ({Environment.ProcessorCount} logical cores; {(Flags.Count == 0 ? "flags unknown" : string.Join(' ', RelevantFlags.Where(Flags.Contains)))})";

    public static bool Has(string flag) => Flags.Contains(flag);

    private static IReadOnlySet<string> Flags { get; } =
        (Field("flags") ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);

    private static string? Field(string name)
    {
        if (!File.Exists(CpuInfoPath))
        {
            return null;
        }

        var line = File.ReadLines(CpuInfoPath).FirstOrDefault(l => l.StartsWith(name, StringComparison.Ordinal));
        return line is null ? null : line[(line.IndexOf(':') + 1)..].Trim();
    }
}
