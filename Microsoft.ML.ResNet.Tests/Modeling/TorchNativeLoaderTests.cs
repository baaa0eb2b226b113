using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.ML.ResNet.Modeling;

namespace Microsoft.ML.ResNet.Tests.Modeling;

[TestClass]
public sealed class TorchNativeLoaderTests
{
    [TestMethod]
    public void EnsureLoaded_OnThisMachine_LoadsTheBackend()
    {
        TorchNativeLoader.EnsureLoaded();

        Assert.IsNotNull(TorchNativeLoader.LoadedFrom);
        using var sum = TorchSharp.torch.ones(3).sum();
        Assert.AreEqual(3f, sum.item<float>());
    }

    [TestMethod]
    public void EnsureLoaded_WhenPatched_NeverWritesIntoThePackageFolder()
    {
        TorchNativeLoader.EnsureLoaded();
        if (TorchNativeLoader.LoadedFrom == "stock")
        {
            Assert.Inconclusive("The stock load works on this machine; no patched copy was needed.");
        }

        var original = TorchNativeLoader.FindNativeFile("libLibTorchSharp.so")!;
        StringAssert.StartsWith(TorchNativeLoader.LoadedFrom, Path.GetTempPath());
        Assert.AreNotEqual(Path.GetDirectoryName(original), Path.GetDirectoryName(TorchNativeLoader.LoadedFrom));
        Assert.AreNotEqual(Hash(original), Hash(TorchNativeLoader.LoadedFrom!), "the original is untouched, the copy differs");
    }

    [TestMethod]
    public void MissingVersions_DlopenMessage_ExtractsEachVersion()
    {
        const string message = "/x/libLibTorchSharp.so: /lib/x86_64-linux-gnu/libstdc++.so.6: version `GLIBCXX_3.4.32' not found (required by /x/libLibTorchSharp.so)";

        CollectionAssert.AreEquivalent(new[] { "GLIBCXX_3.4.32" }, TorchNativeLoader.MissingVersions(message).ToArray());
    }

    [TestMethod]
    public void WeakenVersionNeeds_LibTorchSharp_MarksOnlyTheNamedVersionWeak()
    {
        var original = TorchNativeLoader.FindNativeFile("libLibTorchSharp.so")!;
        var patched = Path.Combine(TestPaths.NewTempFolder(), "patched.so");
        File.WriteAllBytes(patched, ElfVersionPatcher.WeakenVersionNeeds(File.ReadAllBytes(original), ["GLIBCXX_3.4.32"]));

        var versions = ReadElfVersionNeeds(patched);

        var patchedLines = versions.Where(l => l.Contains("Name: GLIBCXX_3.4.32")).ToList();
        Assert.IsTrue(patchedLines.Count > 0 && patchedLines.All(l => l.Contains("Flags: WEAK")), string.Join('\n', patchedLines));
        StringAssert.Contains(versions.Single(l => l.Contains("Name: GLIBCXX_3.4.30")), "Flags: none");
    }

    [TestMethod]
    public void WeakenVersionNeeds_NotAnElfFile_ThrowsInvalidData()
    {
        Assert.ThrowsExactly<InvalidDataException>(() => ElfVersionPatcher.WeakenVersionNeeds("not an elf file at all, just text"u8, ["GLIBCXX_3.4.32"]));
    }

    [TestMethod]
    public void WeakenVersionNeeds_VersionNotRequired_ThrowsInvalidData()
    {
        var original = TorchNativeLoader.FindNativeFile("libLibTorchSharp.so")!;

        var error = Assert.ThrowsExactly<InvalidDataException>(() => ElfVersionPatcher.WeakenVersionNeeds(File.ReadAllBytes(original), ["GLIBCXX_9.9"]));

        StringAssert.Contains(error.Message, "GLIBCXX_9.9");
    }

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    /// <summary>binutils' readelf is the independent judge of what the dynamic loader will read.</summary>
    private static string[] ReadElfVersionNeeds(string path)
    {
        if (!File.Exists("/usr/bin/readelf"))
        {
            Assert.Inconclusive("readelf (binutils) is not installed.");
        }

        var start = new ProcessStartInfo("/usr/bin/readelf", ["-V", path]) { RedirectStandardOutput = true };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return output.Split('\n');
    }
}
