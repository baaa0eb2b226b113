using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.ResNet.Training;

/// <summary>Whether this CPU computes bfloat16 natively, which is where <see cref="BFloat16Backbone"/> pays.</summary>
/// <remarks>
/// Without AVX512-BF16 or AMX, oneDNN emulates bfloat16 convolutions with float32 arithmetic plus conversions: slower
/// than float32 itself. .NET exposes neither feature as an intrinsics class; on Linux the kernel lists them in
/// /proc/cpuinfo, elsewhere AVX10.1 (which includes the bfloat16 instructions) is the one signal .NET gives.
/// </remarks>
internal static class BFloat16Support
{
    private static readonly Lazy<bool> Native = new(Detect);

    public static bool IsNative => Native.Value;

    private static bool Detect()
    {
        if (OperatingSystem.IsLinux() && File.Exists("/proc/cpuinfo"))
        {
            var flags = File.ReadLines("/proc/cpuinfo").FirstOrDefault(line => line.StartsWith("flags", StringComparison.Ordinal));
            if (flags is not null)
            {
                var names = flags.Split([' ', '\t', ':'], StringSplitOptions.RemoveEmptyEntries);
                return names.Contains("avx512_bf16") || names.Contains("amx_bf16");
            }
        }

        return Avx10v1.IsSupported;
    }
}
