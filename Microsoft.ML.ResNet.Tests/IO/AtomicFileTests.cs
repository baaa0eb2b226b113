using Microsoft.ML.ResNet.IO;
using Microsoft.ML.ResNet.Modeling;

namespace Microsoft.ML.ResNet.Tests.IO;

[TestClass]
public sealed class AtomicFileTests : TempFolderTest
{
    [TestMethod]
    public void Write_WriterFailsMidway_OriginalIntactAndNoTempLeft()
    {
        var path = Path.Combine(Folder, "model.onnx");
        File.WriteAllText(path, "original");

        var error = Assert.ThrowsExactly<IOException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write(new byte[4096]);
            throw new IOException("disk full (simulated by the writer)");
        }));

        StringAssert.Contains(error.Message, path);
        StringAssert.Contains(error.Message, "disk full (simulated by the writer)");
        Assert.AreEqual("original", File.ReadAllText(path));
        CollectionAssert.AreEqual(new[] { path }, Directory.GetFiles(Folder));
    }

    [TestMethod]
    public void Write_StreamFailsAfterSomeBytes_ErrorNamesPathOriginalIntactNoTempLeft()
    {
        var path = Path.Combine(Folder, "model.zip");
        File.WriteAllText(path, "previous model");

        var error = Assert.ThrowsExactly<IOException>(() => AtomicFile.Write(path, stream =>
        {
            using var failing = new FailingStream(stream, failAfterBytes: 10_000);
            failing.Write(new byte[64 * 1024]);
        }));

        StringAssert.Contains(error.Message, path);
        Assert.IsInstanceOfType<IOException>(error.InnerException);
        Assert.AreEqual("previous model", File.ReadAllText(path));
        CollectionAssert.AreEqual(new[] { path }, Directory.GetFiles(Folder), "no temp file is left behind");
    }

    [TestMethod]
    public void Write_TargetIsFolder_ThrowsAndNoTempLeft()
    {
        var target = Path.Combine(Folder, "model.onnx");
        Directory.CreateDirectory(target);

        Assert.Throws<IOException>(() => AtomicFile.Write(target, stream => stream.Write(new byte[16])));

        Assert.IsTrue(Directory.Exists(target));
        Assert.IsEmpty(Directory.GetFiles(Folder));
    }

    [TestMethod]
    public void Write_NewFolder_CreatesFolderAndFile()
    {
        var path = Path.Combine(Folder, "sub", "model.onnx");

        AtomicFile.Write(path, stream => stream.Write([1, 2, 3]));

        CollectionAssert.AreEqual(new byte[] { 1, 2, 3 }, File.ReadAllBytes(path));
    }

    [TestMethod]
    public void Write_NewFolderNotToBeCreated_ThrowsNamingPathAndCreatesNothing()
    {
        var path = Path.Combine(Folder, "sub", "model.onnx");

        var error = Assert.ThrowsExactly<DirectoryNotFoundException>(() => AtomicFile.Write(path, stream => stream.Write([1]), createFolder: false));

        StringAssert.Contains(error.Message, path);
        Assert.IsEmpty(Directory.GetFileSystemEntries(Folder));
    }

    [TestMethod]
    public void Write_ReadOnlyTarget_ThrowsNamingPathAndKeepsTheFile()
    {
        var path = Path.Combine(Folder, "weights.safetensors");
        File.WriteAllText(path, "keep me");
        File.SetAttributes(path, FileAttributes.ReadOnly);

        var error = Assert.ThrowsExactly<UnauthorizedAccessException>(() => AtomicFile.Write(path, stream => stream.Write([1])));

        StringAssert.Contains(error.Message, path);
        Assert.AreEqual("keep me", File.ReadAllText(path));
        CollectionAssert.AreEqual(new[] { path }, Directory.GetFileSystemEntries(Folder));
    }

    [TestMethod]
    public void Write_FileWhereAFolderShouldBe_ThrowsNamingBoth()
    {
        var file = Path.Combine(Folder, "a");
        File.WriteAllText(file, "a file");
        var path = Path.Combine(file, "b", "model.onnx");

        var error = Assert.ThrowsExactly<IOException>(() => AtomicFile.Write(path, stream => stream.Write([1])));

        StringAssert.Contains(error.Message, path);
        StringAssert.Contains(error.Message, $"'{file}' is a file");
        Assert.AreEqual("a file", File.ReadAllText(file));
    }

    [TestMethod]
    public void Write_EmptyPath_ThrowsNamingPath()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => AtomicFile.Write(" ", _ => { }));

        Assert.AreEqual("path", error.ParamName);
    }
}
