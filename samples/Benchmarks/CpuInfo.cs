using Microsoft.ML.ResNet;

namespace ResNetBenchmarks;

/// <summary>What a benchmark prints about the CPU it ran on: figures from these machines are only comparable per CPU.</summary>
internal static class CpuInfo
{
    // The features that decide which kernels oneDNN and ONNX Runtime pick for these benchmarks.
    private static readonly string[] RelevantFlags = ["avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8"];

    /// <summary>"CPU: name, family F model M (N logical cores; flags ...)" with the relevant features present.</summary>
    public static string Summary =>
        $"CPU: {CpuFeatures.ModelName}{(CpuFeatures.FamilyAndModel is { } generation ? ", " + generation : "")} ({Environment.ProcessorCount} logical cores; {(CpuFeatures.FlagsKnown ? string.Join(' ', RelevantFlags.Where(CpuFeatures.Has)) : "flags unknown")})";
}
