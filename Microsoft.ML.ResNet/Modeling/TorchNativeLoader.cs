using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using TorchSharp;

namespace Microsoft.ML.ResNet.Modeling;

/// <summary>
/// Makes TorchSharp's native backend loadable before the first <c>torch</c> call.
/// </summary>
/// <remarks>
/// Where the stock load works nothing is touched. On Debian 12 / Ubuntu 22.04-class systems
/// LibTorchSharp asks for a libstdc++ symbol version (GLIBCXX_3.4.32) that it never uses; there
/// we load libtorch ourselves, write a copy of LibTorchSharp whose needless version requirements
/// are weak (never the NuGet cache's file), and load that copy. TorchSharp's own probe then finds
/// the already-loaded soname.
/// </remarks>
internal static partial class TorchNativeLoader
{
    private const string TorchSharpLibrary = "libLibTorchSharp.so";
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
            var stockError = TryStockLoad();
            if (stockError is null)
            {
                LoadedFrom = "stock";
            }
            else if (OperatingSystem.IsLinux() && MissingVersions(stockError).Count > 0)
            {
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

        var versions = MissingVersions(stockError);
        var copy = WritePatchedCopy(original, versions);
        try
        {
            NativeLibrary.Load(copy);
        }
        catch (DllNotFoundException e)
        {
            throw new DllNotFoundException(
                $"The patched copy {copy} (weak {string.Join(", ", versions)}) did not load: {e.Message}. Stock load failed with: {stockError}", e);
        }

        return copy;
    }

    private static string WritePatchedCopy(string original, IReadOnlyCollection<string> versions)
    {
        var bytes = File.ReadAllBytes(original);
        var key = Convert.ToHexString(SHA256.HashData(bytes))[..16];
        var folder = Path.Combine(Path.GetTempPath(), "resnetml-native", key);
        var copy = Path.Combine(folder, TorchSharpLibrary);
        if (File.Exists(copy))
        {
            return copy;
        }

        Directory.CreateDirectory(folder);
        var temp = Path.Combine(folder, $"{TorchSharpLibrary}.{Environment.ProcessId}.tmp");
        File.WriteAllBytes(temp, ElfVersionPatcher.WeakenVersionNeeds(bytes, versions));
        File.Move(temp, copy, overwrite: true);
        return copy;
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
            foreach (var version in Directory.GetDirectories(libTorch).OrderDescending())
            {
                yield return Path.Combine(version, "runtimes", rid, "native");
            }
        }
    }

    [GeneratedRegex(@"version `([A-Za-z_]+[0-9._]*)' not found")]
    private static partial Regex MissingVersionPattern();
}
