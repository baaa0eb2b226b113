using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.ResNet;

/// <summary>
/// The instruction-set features of this CPU that decide which kernels pay off: VNNI for INT8 models
/// (<see cref="ResNetClassifierTransformer.SaveOnnx(string, IDataView, OnnxQuantizationOptions?)"/>) and native bfloat16
/// for the trainer's <see cref="ResNetTrainerOptions.UseBFloat16"/>. Read once from /proc/cpuinfo on Linux; .NET exposes
/// neither feature as an intrinsics class.
/// </summary>
/// <example>See samples/ImageClassification/Model/Int8Export.cs.</example>
public static class CpuFeatures
{
    private const string CpuInfoPath = "/proc/cpuinfo";

    private static readonly Lazy<IReadOnlySet<string>?> FlagSet = new(() =>
        Field("flags")?.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal));

    /// <summary>The processor's name (/proc/cpuinfo's "model name"), or the process architecture where that is not available.</summary>
    public static string ModelName => Field("model name") ?? RuntimeInformation.ProcessArchitecture.ToString();

    /// <summary>Whether the operating system lists the CPU's flags (Linux); elsewhere <see cref="Has"/> is false for every flag.</summary>
    public static bool FlagsKnown => FlagSet.Value is not null;

    /// <summary>The VNNI flags present (avx512_vnni, avx_vnni): ONNX Runtime's INT8 convolutions are fast with them,
    /// and without them an INT8 model runs correctly but may be no faster than FP32.</summary>
    public static IReadOnlyList<string> VnniFlags { get; } = ["avx512_vnni", "avx_vnni"];

    /// <summary>Whether any of the <see cref="VnniFlags"/> is present.</summary>
    public static bool HasVnni => VnniFlags.Any(Has);

    /// <summary>
    /// Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX). Without it oneDNN emulates bfloat16 convolutions
    /// with float32 arithmetic plus conversions: slower than float32 itself. Where the flags are not listed, AVX10.1
    /// (which includes the bfloat16 instructions) is the one signal .NET gives.
    /// </summary>
    public static bool HasNativeBFloat16 => FlagsKnown ? Has("avx512_bf16") || Has("amx_bf16") : Avx10v1.IsSupported;

    /// <summary>
    /// "family F model M" from /proc/cpuinfo (x86), or null where those fields are missing. Virtual machines often name every
    /// generation alike ("AMD EPYC"); the numbers tell them apart (family 23 is Zen to Zen 2, 25 Zen 3 and 4, 26 Zen 5).
    /// </summary>
    public static string? FamilyAndModel =>
        Field("cpu family") is { } family && Field("model") is { } model ? $"family {family} model {model}" : null;

    /// <summary>
    /// What tells this CPU's kernels apart: its name, family and model and every flag /proc/cpuinfo lists; where the
    /// flags are not listed, the process architecture and the vector extensions .NET reports. Two CPUs with the same
    /// signature run the same ONNX Runtime kernels (see <see cref="Scoring.OptimizedModelCache"/>).
    /// </summary>
    internal static string Signature => FlagSet.Value is { } flags
        ? $"{ModelName}|{FamilyAndModel}|{string.Join(' ', flags.Order(StringComparer.Ordinal))}"
        : $"{RuntimeInformation.ProcessArchitecture}|avx2={Avx2.IsSupported}|avx512f={Avx512F.IsSupported}|avx512bw={Avx512BW.IsSupported}|avxvnni={AvxVnni.IsSupported}|avx10.1={Avx10v1.IsSupported}";

    /// <summary>Whether /proc/cpuinfo lists <paramref name="flag"/> (e.g. "avx512_vnni").</summary>
    /// <param name="flag">A flag as the Linux kernel spells it.</param>
    /// <returns>True when listed; false when not, or when the flags are not known (<see cref="FlagsKnown"/>).</returns>
    /// <exception cref="ArgumentException"><paramref name="flag"/> is null, empty or white space.</exception>
    public static bool Has(string flag)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(flag);
        return FlagSet.Value?.Contains(flag) == true;
    }

    private static string? Field(string name)
    {
        if (!OperatingSystem.IsLinux() || !File.Exists(CpuInfoPath))
        {
            return null;
        }

        // "model" must not match "model name": the field's name ends where the tabs before the colon begin.
        var line = File.ReadLines(CpuInfoPath).FirstOrDefault(l => l.StartsWith(name, StringComparison.Ordinal) && l.AsSpan(name.Length).TrimStart('\t').StartsWith(":"));
        return line is null ? null : line[(line.IndexOf(':') + 1)..].Trim();
    }
}
