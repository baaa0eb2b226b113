using System.Runtime.InteropServices;

namespace Microsoft.ML.ResNet.Native;

/// <summary>
/// Makes glibc keep the memory a training step frees for the next step, instead of handing it back to the kernel and
/// faulting it in again, unless the user tuned malloc already.
/// </summary>
/// <remarks>
/// libtorch allocates every step's activations and gradients with malloc and frees them before the next step. glibc's
/// defaults return such memory to the kernel: blocks above a threshold that adapts only up to 32 MB are mapped and
/// unmapped one by one, and the top of the heap is trimmed once more than twice that threshold is free. The next step
/// then touches fresh pages again, and every fresh page costs a fault that the kernel must zero. Counted on a ResNet-34
/// step at 64x64, batch 32: about 23,000 page faults a step with glibc's defaults and about 600 with a fixed 32 MB map
/// threshold and no trimming (2026-12-04, AMD EPYC family 26 VM, where a fresh page cost 11 us). There the trainer's
/// float32 step went from 64.6-72.6 to 85.8-111.4 images/s (three pairs of fresh processes, alternating, quiet) and the
/// process's system time from 12-13 s to 3.3-4.7 s. The price is that a training process keeps its peak heap until it
/// exits; blocks above 32 MB are still mapped and unmapped.
/// <para>glibc reads its own tunables (GLIBC_TUNABLES, MALLOC_TRIM_THRESHOLD_, MALLOC_MMAP_THRESHOLD_) only when a
/// process starts; a user who set any of them keeps them, and this changes nothing.</para>
/// </remarks>
internal static partial class MallocPolicy
{
    /// <summary>glibc's largest map threshold on 64-bit (half its heap size); mallopt refuses more.</summary>
    public const int MapThresholdBytes = 32 * 1024 * 1024;

    private const int TrimThresholdOption = -1;  // M_TRIM_THRESHOLD
    private const int MapThresholdOption = -3;   // M_MMAP_THRESHOLD

    private static readonly string[] UserSettings = ["GLIBC_TUNABLES", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"];

    /// <summary>Whether <see cref="KeepFreedMemory"/> changed glibc's settings in this process.</summary>
    public static bool Applied { get; private set; }

    /// <summary>Fixes glibc's map threshold at 32 MB and stops heap trimming, unless the user tuned malloc; false when nothing changed.</summary>
    public static bool KeepFreedMemory()
    {
        if (!OperatingSystem.IsLinux() || UserSettings.Any(name => Environment.GetEnvironmentVariable(name) is not null))
        {
            return false;
        }

        try
        {
            // mallopt returns 1 on success; musl's stub returns 0 and changes nothing.
            var changed = SetMallocOption(MapThresholdOption, MapThresholdBytes) == 1
                & SetMallocOption(TrimThresholdOption, int.MaxValue) == 1;
            Applied |= changed;
            return changed;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Without glibc's mallopt the defaults stay: more page faults, same results.
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int SetMallocOption(int option, int value);
}
