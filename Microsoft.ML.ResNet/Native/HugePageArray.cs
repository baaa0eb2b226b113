using System.Runtime.InteropServices;

namespace Microsoft.ML.ResNet.Native;

/// <summary>
/// Byte arrays for a network's bytes (tens to hundreds of MB) that are filled once, right after they are made.
/// </summary>
/// <remarks>
/// On some VMs a fresh 4 KiB page of memory costs 10 us or more the first time it is touched (11 us on the AMD EPYC
/// family 26 VM of 2026-12-04), so reading an 87 MB network into a new array took 0.23 s there, most of a first
/// answer's budget. On Linux these arrays ask for transparent huge pages (<c>madvise(MADV_HUGEPAGE)</c>, which the
/// kernel's default "madvise" mode honours), one fault per 2 MiB instead of 512: the same read took 0.02-0.15 s.
/// The arrays live on the pinned object heap, so the advice stays with their memory (the garbage collector never
/// moves them) and ONNX Runtime may keep pointing into one for a session's lifetime
/// (<see cref="Scoring.OptimizedModelCache"/>). The advice is only advice: where it fails, or on other systems, the
/// array is an ordinary pinned array.
/// </remarks>
internal static partial class HugePageArray
{
    private const long HugePage = 2L << 20;
    private const int MadviseHugePage = 14;  // MADV_HUGEPAGE

    /// <summary>A pinned array of <paramref name="length"/> bytes whose contents are unspecified until written.</summary>
    public static byte[] Allocate(int length)
    {
        var array = GC.AllocateUninitializedArray<byte>(length, pinned: true);
        if (OperatingSystem.IsLinux() && length >= HugePage)
        {
            AdviseHugePages(array);
        }

        return array;
    }

    private static unsafe void AdviseHugePages(byte[] array)
    {
        fixed (byte* data = array)
        {
            // Only whole 2 MiB pages inside the array: the advice must not reach memory the array does not own.
            var start = ((long)data + HugePage - 1) & ~(HugePage - 1);
            var end = ((long)data + array.Length) & ~(HugePage - 1);
            if (end > start)
            {
                _ = Madvise((nint)start, (nuint)(end - start), MadviseHugePage);
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(nint address, nuint length, int advice);
}
