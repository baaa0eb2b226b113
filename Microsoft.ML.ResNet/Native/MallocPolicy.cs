using System.Runtime.InteropServices;

namespace Microsoft.ML.ResNet.Native;

/// <summary>
/// Makes glibc keep the memory a training step frees for the next step, instead of handing it back to the kernel and
/// faulting it in again, unless the user tuned malloc already.
/// </summary>
/// <remarks>
/// libtorch allocates every step's activations and gradients with malloc and frees them before the next step. glibc's
/// defaults return such memory to the kernel: blocks above a threshold (which adapts only up to 32 MB) are mapped and
/// unmapped one by one, and the top of the heap is trimmed once more than twice that threshold is free. The next step
/// then touches fresh pages again, and every fresh page costs a fault that the kernel must zero. Counted on a ResNet-34
/// step at 64x64, batch 32: about 23,000 page faults a step with glibc's defaults and about 600 with a fixed 32 MB map
/// threshold and no trimming (2026-12-04, AMD EPYC family 26 VM, where a fresh page cost 11 us). There the trainer's
/// float32 step went from 64.6-72.6 to 85.8-111.4 images/s (three pairs of fresh processes, alternating, quiet) and the
/// process's system time from 12-13 s to 3.3-4.7 s.
/// <para>At 224x224 a step's largest blocks (the first stage's activations and gradients, 100 MB at batch 32) are
/// above any threshold mallopt accepts, so a threshold alone still mapped and faulted them in every step: the policy
/// turns mapping off instead, and every block comes from the heap, which is never trimmed. Counted on the same VM
/// (fresh processes, alternating; 5 steps of each of two variants, batch 32): 1.25-1.42 million page faults a process
/// with the 32 MB threshold against 0.69-0.75 million without mapping, about the process's peak resident set (2.8-3.0 GB)
/// faulted in once.</para>
/// <para>The price is that a process that trained keeps its peak heap until it exits. glibc reads its own tunables
/// (GLIBC_TUNABLES, MALLOC_TRIM_THRESHOLD_, MALLOC_MMAP_THRESHOLD_, MALLOC_MMAP_MAX_) only when a process starts; a user
/// who set any of them keeps them, and this changes nothing.</para>
/// </remarks>
internal static partial class MallocPolicy
{
    private const int TrimThresholdOption = -1;  // M_TRIM_THRESHOLD
    private const int MapMaxOption = -4;         // M_MMAP_MAX: how many blocks may be mapped at once

    // glibc stores the trim threshold as a size_t: -1 becomes the largest size, so the heap is never trimmed
    // (int.MaxValue would still trim once 2 GB at the top were free, which a 224x224 step frees).
    private const int NeverTrim = -1;

    /// <summary>The same settings as glibc tunables, for a process started beside ours (the training benchmark's PyTorch).</summary>
    public const string EquivalentTunables = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=18446744073709551615";

    private static readonly string[] UserSettings = ["GLIBC_TUNABLES", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_MMAP_MAX_"];

    /// <summary>Whether <see cref="KeepFreedMemory"/> changed glibc's settings in this process.</summary>
    public static bool Applied { get; private set; }

    /// <summary>Stops glibc from mapping blocks of their own and from trimming the heap, unless the user tuned malloc; false when nothing changed.</summary>
    public static bool KeepFreedMemory()
    {
        if (!OperatingSystem.IsLinux() || UserSettings.Any(name => Environment.GetEnvironmentVariable(name) is not null))
        {
            return false;
        }

        try
        {
            // mallopt returns 1 on success; musl's stub returns 0 and changes nothing.
            var changed = SetMallocOption(MapMaxOption, 0) == 1
                & SetMallocOption(TrimThresholdOption, NeverTrim) == 1;
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
