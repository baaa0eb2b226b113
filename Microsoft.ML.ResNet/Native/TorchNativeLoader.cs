using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Microsoft.ML.ResNet.IO;
using TorchSharp;

namespace Microsoft.ML.ResNet.Native;

/// <summary>
/// Makes TorchSharp's native backend loadable before the first <c>torch</c> call.
/// </summary>
/// <remarks>
/// Where the stock load works nothing is touched. On Debian 12 / Ubuntu 22.04-class systems
/// LibTorchSharp asks for a libstdc++ symbol version (GLIBCXX_3.4.32) that it never uses; there
/// we load libtorch ourselves, write a copy of LibTorchSharp whose needless version requirement
/// (GLIBCXX_3.4.32 only) is weak (never the NuGet cache's file), and load that copy. TorchSharp's own
/// probe then finds the already-loaded soname. The copy lives in the user's private temp folder
/// (<see cref="PrivateTempFolder"/>) and its SHA-256 is checked against the bytes the patch must produce
/// before every load: a copy someone changed is rewritten, never loaded.
/// </remarks>
internal static partial class TorchNativeLoader
{
    private const string TorchSharpLibrary = "libLibTorchSharp.so";

    /// <summary>
    /// The only requirement ever weakened: GCC 13's link marker, which nothing calls (see ElfVersionPatcher).
    /// Any other missing version is a real incompatibility and must fail the load.
    /// </summary>
    internal const string HarmlessVersion = "GLIBCXX_3.4.32";
    private static readonly string[] LibTorchLibraries = ["libc10.so", "libtorch_cpu.so", "libtorch.so"];
    private static readonly object Gate = new();
    private static bool _loaded;

    /// <summary>How the backend was loaded; null until <see cref="EnsureLoaded"/> succeeds.</summary>
    public static string? LoadedFrom { get; private set; }

    /// <summary>Loads the native backend once per process; later calls return at once.</summary>
    /// <exception cref="DllNotFoundException">Neither the stock load nor the patched copy loads;
    /// the message carries both causes.</exception>
    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (_loaded)
            {
                return;
            }

            // Before libtorch (and its libgomp) loads: libgomp reads its settings once.
            OpenMpWaitPolicy.PreferPassive();
            MallocPolicy.KeepFreedMemory();
            var stockError = TryStockLoad();
            IReadOnlyCollection<string> missing = stockError is null ? [] : MissingVersions(stockError);
            if (stockError is null)
            {
                LoadedFrom = "stock";
            }
            else if (OperatingSystem.IsLinux() && missing.Count > 0)
            {
                RequireOnlyHarmlessVersionsMissing(missing, stockError);
                LoadedFrom = LoadPatchedCopy(stockError);
                torch.InitializeDeviceType(DeviceType.CPU);
            }
            else
            {
                throw new DllNotFoundException($"TorchSharp's native backend did not load: {stockError}");
            }

            _loaded = true;
        }
    }

    private static string? TryStockLoad()
    {
        if (OperatingSystem.IsLinux())
        {
            // Probe with the full path first: TorchSharp's own failed probe would leave it in a
            // state that hides the real cause (the missing symbol version).
            var library = FindNativeFile(TorchSharpLibrary);
            if (library is not null && !NativeLibrary.TryLoad(library, out _))
            {
                // Notebooks and scripts use the packages in NuGet's cache, where libtorch sits in another package's folder
                // than LibTorchSharp: nothing finds it by name until it is loaded by path. Loaded, it lets the probe
                // below report the real cause.
                PreloadLibTorch();
                try
                {
                    NativeLibrary.Load(library);
                }
                catch (DllNotFoundException e)
                {
                    return e.Message;
                }
            }
        }

        try
        {
            torch.InitializeDeviceType(DeviceType.CPU);
            return null;
        }
        catch (Exception e) when (e is DllNotFoundException or NotSupportedException or TypeInitializationException)
        {
            return e.Message;
        }
    }

    private static void PreloadLibTorch()
    {
        foreach (var name in LibTorchLibraries)
        {
            if (FindNativeFile(name) is { } path)
            {
                NativeLibrary.TryLoad(path, out _);
            }
        }
    }

    private static string LoadPatchedCopy(string stockError)
    {
        var original = FindNativeFile(TorchSharpLibrary)
            ?? throw new DllNotFoundException($"Could not find {TorchSharpLibrary} to patch. Stock load failed with: {stockError}");
        foreach (var name in LibTorchLibraries)
        {
            var path = FindNativeFile(name)
                ?? throw new DllNotFoundException($"Could not find {name} (libtorch) next to {original}. Stock load failed with: {stockError}");
            NativeLibrary.Load(path);
        }

        var copy = PreparePatchedCopy(original, PrivateTempFolder.GetSubfolder("native"));
        try
        {
            NativeLibrary.Load(copy);
        }
        catch (DllNotFoundException e)
        {
            throw new DllNotFoundException(
                $"The patched copy {copy} (weak {HarmlessVersion}) did not load: {e.Message}. Stock load failed with: {stockError}", e);
        }

        return copy;
    }

    /// <summary>
    /// Returns the path of a patched copy of <paramref name="original"/> inside <paramref name="privateFolder"/>
    /// whose bytes are verified to be exactly the original with <see cref="HarmlessVersion"/> made weak. A copy
    /// left by an earlier process is reused only when its SHA-256 matches; anything else there is replaced.
    /// </summary>
    /// <exception cref="IOException">The folder is not private to this user.</exception>
    /// <exception cref="InvalidDataException">The original cannot be patched.</exception>
    internal static string PreparePatchedCopy(string original, string privateFolder)
    {
        var patched = ElfVersionPatcher.WeakenVersionNeeds(File.ReadAllBytes(original), [HarmlessVersion]);
        var expected = SHA256.HashData(patched);
        var folder = PrivateTempFolder.EnsureFolder(Path.Combine(privateFolder, Convert.ToHexString(expected)[..16]));
        var copy = Path.Combine(folder, TorchSharpLibrary);
        if (HasContent(copy, expected))
        {
            return copy;
        }

        // Written under a fresh random name, then renamed over whatever is at the final name (rename replaces
        // a symlink itself, never its target).
        string temp;
        using (var stream = PrivateTempFolder.CreateExclusive(folder, ".tmp", out temp))
        {
            stream.Write(patched);
        }

        File.Move(temp, copy, overwrite: true);
        if (!HasContent(copy, expected))
        {
            throw new IOException($"The patched copy '{copy}' changed right after it was written; refusing to load it.");
        }

        return copy;
    }

    /// <summary>
    /// Refuses to patch when the loader misses any version but <see cref="HarmlessVersion"/>: weakening a version
    /// whose symbols are really used would turn a clear load error into a crash later.
    /// </summary>
    /// <exception cref="DllNotFoundException">Another version is missing; the message names it.</exception>
    internal static void RequireOnlyHarmlessVersionsMissing(IReadOnlyCollection<string> missing, string stockError)
    {
        var others = missing.Where(v => v != HarmlessVersion).Order(StringComparer.Ordinal).ToArray();
        if (others.Length > 0)
        {
            throw new DllNotFoundException(
                $"TorchSharp's native backend needs {string.Join(", ", others)}, which this system's libraries lack; only {HarmlessVersion} (an unused link marker) can be worked around. Install a newer libstdc++/glibc. Stock load failed with: {stockError}");
        }
    }

    /// <summary>Version folders (e.g. 2.9.1, 2.10.0) newest first, compared as numbers; unparsable names last.</summary>
    internal static IEnumerable<string> NewestVersionFirst(IEnumerable<string> folders) =>
        folders.OrderByDescending(f => ParseVersion(Path.GetFileName(f)) ?? new Version(0, 0))
            .ThenByDescending(f => f, StringComparer.Ordinal);

    private static Version? ParseVersion(string name)
    {
        // "2.10.0.1", "2.5.1-preview": the numeric part decides.
        var numeric = name.Split('-', '+')[0];
        return Version.TryParse(numeric, out var version) ? version : null;
    }

    private static bool HasContent(string path, byte[] sha256)
    {
        var info = new FileInfo(path);
        if (!info.Exists || info.LinkTarget is not null)
        {
            return false;
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        return SHA256.HashData(stream).AsSpan().SequenceEqual(sha256);
    }

    /// <summary>The symbol versions a dlopen error says are missing, e.g. GLIBCXX_3.4.32.</summary>
    internal static IReadOnlyCollection<string> MissingVersions(string loadError) =>
        MissingVersionPattern().Matches(loadError).Select(m => m.Groups[1].Value).ToHashSet();

    /// <summary>Finds a native file in the places a .NET app or a NuGet cache keeps TorchSharp's assets.</summary>
    internal static string? FindNativeFile(string fileName) =>
        NativeSearchFolders().Select(folder => Path.Combine(folder, fileName)).FirstOrDefault(File.Exists);

    private static IEnumerable<string> NativeSearchFolders()
    {
        const string rid = "linux-x64";
        foreach (var baseFolder in new[] { AppContext.BaseDirectory, Path.GetDirectoryName(typeof(torch).Assembly.Location) })
        {
            if (string.IsNullOrEmpty(baseFolder))
            {
                continue;
            }

            yield return Path.Combine(baseFolder, "runtimes", rid, "native");
            yield return baseFolder;
        }

        // Notebooks and `dotnet run` of a script reference packages straight from the NuGet cache.
        var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var torchSharpVersion = typeof(torch).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0];
        if (torchSharpVersion is not null)
        {
            yield return Path.Combine(packages, "torchsharp", torchSharpVersion, "runtimes", rid, "native");
        }

        var libTorch = Path.Combine(packages, "libtorch-cpu-linux-x64");
        if (Directory.Exists(libTorch))
        {
            foreach (var version in NewestVersionFirst(Directory.GetDirectories(libTorch)))
            {
                yield return Path.Combine(version, "runtimes", rid, "native");
            }
        }
    }

    [GeneratedRegex(@"version `([A-Za-z_]+[0-9._]*)' not found")]
    private static partial Regex MissingVersionPattern();
}
