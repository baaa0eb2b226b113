using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.ML.ResNet.IO;
using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Native;

namespace Microsoft.ML.ResNet.Tests.Native;

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
    public void EnsureLoaded_WhenPatched_LoadsFromThePrivateFolder()
    {
        TorchNativeLoader.EnsureLoaded();
        if (TorchNativeLoader.LoadedFrom == "stock")
        {
            Assert.Inconclusive("The stock load works on this machine; no patched copy was needed.");
        }

        StringAssert.StartsWith(TorchNativeLoader.LoadedFrom, PrivateTempFolder.Get() + Path.DirectorySeparatorChar);
    }

    [TestMethod]
    public void PreparePatchedCopy_TamperedCopy_IsDetectedAndRewritten()
    {
        var original = TorchNativeLoader.FindNativeFile("libLibTorchSharp.so")!;
        var root = TestPaths.NewTempFolder();
        try
        {
            var folder = PrivateTempFolder.Ensure(root);
            var expected = Convert.ToHexString(SHA256.HashData(ElfVersionPatcher.WeakenVersionNeeds(File.ReadAllBytes(original), ["GLIBCXX_3.4.32"])));
            var copy = TorchNativeLoader.PreparePatchedCopy(original, folder);
            Assert.AreEqual(expected, Hash(copy));

            File.WriteAllText(copy, "a planted library");
            var again = TorchNativeLoader.PreparePatchedCopy(original, folder);

            Assert.AreEqual(copy, again);
            Assert.AreEqual(expected, Hash(again), "the tampered file was replaced by the verified bytes before being handed out for loading");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [TestMethod]
    public void PreparePatchedCopy_SymlinkPlantedAtTheCopy_ReplacesTheLinkNotItsTarget()
    {
        var original = TorchNativeLoader.FindNativeFile("libLibTorchSharp.so")!;
        var root = TestPaths.NewTempFolder();
        try
        {
            var folder = PrivateTempFolder.Ensure(root);
            var copy = TorchNativeLoader.PreparePatchedCopy(original, folder);
            File.Delete(copy);
            var victim = Path.Combine(root, "victim.so");
            File.WriteAllText(victim, "someone else's file");
            File.CreateSymbolicLink(copy, victim);

            var again = TorchNativeLoader.PreparePatchedCopy(original, folder);

            Assert.AreEqual("someone else's file", File.ReadAllText(victim));
            Assert.IsNull(new FileInfo(again).LinkTarget);
            Assert.AreNotEqual(Hash(original), Hash(again));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [TestMethod]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void PreparePatchedCopy_FolderOpenToOthers_Refuses()
    {
        var original = TorchNativeLoader.FindNativeFile("libLibTorchSharp.so")!;
        var root = TestPaths.NewTempFolder();
        try
        {
            var folder = PrivateTempFolder.Ensure(root);
            var copy = TorchNativeLoader.PreparePatchedCopy(original, folder);
            File.SetUnixFileMode(Path.GetDirectoryName(copy)!, (UnixFileMode)0x1ff);

            var error = Assert.ThrowsExactly<IOException>(() => TorchNativeLoader.PreparePatchedCopy(original, folder));

            StringAssert.Contains(error.Message, Path.GetDirectoryName(copy)!);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [TestMethod]
    public void RequireOnlyHarmlessVersionsMissing_AnotherVersionMissing_ThrowsNamingIt()
    {
        var error = Assert.ThrowsExactly<DllNotFoundException>(() =>
            TorchNativeLoader.RequireOnlyHarmlessVersionsMissing(["GLIBCXX_3.4.32", "GLIBC_2.38"], "version `GLIBC_2.38' not found"));

        StringAssert.Contains(error.Message, "GLIBC_2.38");
    }

    [TestMethod]
    public void RequireOnlyHarmlessVersionsMissing_OnlyTheLinkMarker_Accepts()
    {
        TorchNativeLoader.RequireOnlyHarmlessVersionsMissing(["GLIBCXX_3.4.32"], "version `GLIBCXX_3.4.32' not found");
    }

    [TestMethod]
    public void NewestVersionFirst_TwoDigitMinor_ComparesNumerically()
    {
        var folders = new[] { "/p/2.9.1", "/p/2.10.0", "/p/2.2.0", "/p/notes" };

        var ordered = TorchNativeLoader.NewestVersionFirst(folders).ToArray();

        CollectionAssert.AreEqual(new[] { "/p/2.10.0", "/p/2.9.1", "/p/2.2.0", "/p/notes" }, ordered);
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
