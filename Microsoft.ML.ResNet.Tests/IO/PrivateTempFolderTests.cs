using System.Diagnostics;
using System.Runtime.Versioning;
using Microsoft.ML.ResNet.IO;
using Microsoft.ML.ResNet.Modeling;

namespace Microsoft.ML.ResNet.Tests.IO;

[TestClass]
[UnsupportedOSPlatform("windows")]
public sealed class PrivateTempFolderTests
{
    private string _root = "";

    [TestInitialize]
    public void CreateRoot()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Inconclusive("Owner and mode checks are Unix ones; Windows' temp folder is per user already.");
        }

        _root = TestPaths.NewTempFolder();
    }

    [TestCleanup]
    public void DeleteRoot()
    {
        if (_root.Length > 0)
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [TestMethod]
    public void Ensure_NoFolderYet_CreatesItOwnerOnly()
    {
        var folder = PrivateTempFolder.Ensure(_root);

        Assert.AreEqual(_root, Path.GetDirectoryName(folder));
        StringAssert.StartsWith(Path.GetFileName(folder), "resnetml-");
        Assert.AreEqual(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(folder));
        Assert.AreEqual(folder, PrivateTempFolder.Ensure(_root), "a second call accepts the folder it made");
    }

    [TestMethod]
    public void Ensure_FolderOpenToEveryone_RefusesNamingFolderAndMode()
    {
        var folder = PrivateTempFolder.Ensure(_root);
        File.SetUnixFileMode(folder, (UnixFileMode)0x1ff);

        var error = Assert.ThrowsExactly<IOException>(() => PrivateTempFolder.Ensure(_root));

        StringAssert.Contains(error.Message, folder);
        StringAssert.Contains(error.Message, "777");
    }

    [TestMethod]
    public void Ensure_FolderOwnedByAnotherUser_RefusesNamingTheOwner()
    {
        var folder = PrivateTempFolder.Ensure(_root);
        if (Run("chown", "54321", folder) != 0)
        {
            Assert.Inconclusive("chown to another uid is not permitted here (the test needs root to plant a foreign folder).");
        }

        var error = Assert.ThrowsExactly<IOException>(() => PrivateTempFolder.Ensure(_root));

        StringAssert.Contains(error.Message, folder);
        StringAssert.Contains(error.Message, "uid 54321");
    }

    [TestMethod]
    public void Ensure_SymlinkPlantedAtThePrivatePath_RefusesAndCreatesNothingAtItsTarget()
    {
        var expected = PrivateTempFolder.Ensure(_root);
        Directory.Delete(expected);
        var elsewhere = Path.Combine(_root, "attacker");
        Directory.CreateDirectory(elsewhere, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.CreateSymbolicLink(expected, elsewhere);

        var error = Assert.ThrowsExactly<IOException>(() => PrivateTempFolder.Ensure(_root));

        StringAssert.Contains(error.Message, "symbolic link");
        StringAssert.Contains(error.Message, expected);
    }

    [TestMethod]
    public void Ensure_DanglingSymlinkAtThePrivatePath_RefusesAndDoesNotCreateItsTarget()
    {
        var expected = PrivateTempFolder.Ensure(_root);
        Directory.Delete(expected);
        var target = Path.Combine(_root, "would-be-created");
        File.CreateSymbolicLink(expected, target);

        Assert.ThrowsExactly<IOException>(() => PrivateTempFolder.Ensure(_root));

        Assert.IsFalse(Path.Exists(target));
    }

    [TestMethod]
    public void CreateNew_SymlinkPlantedAtTheName_ThrowsAndLeavesTheTargetAlone()
    {
        var folder = PrivateTempFolder.Ensure(_root);
        var victim = Path.Combine(_root, "victim.txt");
        File.WriteAllText(victim, "not yours");
        var predictable = Path.Combine(folder, "planted.onnx");
        File.CreateSymbolicLink(predictable, victim);

        Assert.ThrowsExactly<IOException>(() =>
        {
            using var stream = PrivateTempFolder.CreateNew(predictable);
            stream.Write("overwritten"u8);
        });

        Assert.AreEqual("not yours", File.ReadAllText(victim));
    }

    [TestMethod]
    public void CreateExclusive_TwoCalls_GiveDistinctOwnerOnlyFiles()
    {
        var folder = PrivateTempFolder.Ensure(_root);

        string first;
        string second;
        using (PrivateTempFolder.CreateExclusive(folder, ".onnx", out first))
        using (PrivateTempFolder.CreateExclusive(folder, ".onnx", out second))
        {
        }

        Assert.AreNotEqual(first, second);
        Assert.AreEqual(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(first));
        Assert.AreEqual(folder, Path.GetDirectoryName(first));
    }

    [TestMethod]
    public void Get_TempFolderFromTmpdir_IsPerUserAndChecked()
    {
        var previous = Environment.GetEnvironmentVariable("TMPDIR");
        Environment.SetEnvironmentVariable("TMPDIR", _root);
        try
        {
            var folder = PrivateTempFolder.Get();

            Assert.AreEqual(Path.Combine(_root, Path.GetFileName(folder)), folder);
            Assert.AreEqual(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(folder));
        }
        finally
        {
            Environment.SetEnvironmentVariable("TMPDIR", previous);
        }
    }

    private static int Run(string command, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(command, arguments) { RedirectStandardError = true })!;
        process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode;
    }
}
