using System.Security.Cryptography;
using Microsoft.ML.Data;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;

namespace Microsoft.ML.ResNet.Tests.Catalog;

/// <summary>SaveAtomically under faults: a full disk, and a shared temp name someone else holds.</summary>
[TestClass]
public sealed class ResNetCatalogTests : TempFolderTest
{
    private const int Size = 32;

    [TestMethod]
    public void SaveAtomically_DiskFull_ErrorNamesPathOldModelIntactAndLoadableNoTempLeft()
    {
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(Array.Empty<PixelRow>());
        using var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallOnnx() }).Fit(data);
        using var disk = SmallDisk.Mount("96m");
        var path = Path.Combine(disk.Folder, "model.zip");
        ml.Model.SaveAtomically(transformer, data.Schema, path);
        var saved = SHA256.HashData(File.ReadAllBytes(path));
        disk.Fill();

        var error = Assert.ThrowsExactly<IOException>(() => ml.Model.SaveAtomically(transformer, data.Schema, path));

        StringAssert.Contains(error.Message, path);
        CollectionAssert.AreEqual(saved, SHA256.HashData(File.ReadAllBytes(path)), "the previous model.zip is untouched");
        CollectionAssert.AreEquivalent(new[] { path, Path.Combine(disk.Folder, "filler") }, Directory.GetFiles(disk.Folder), "no temp file is left");
        File.Delete(Path.Combine(disk.Folder, "filler"));
        using var reloaded = (ResNetClassifierTransformer)ResNetClassifierTransformer.Load(ml, path);
        CollectionAssert.AreEqual(new[] { "a", "b" }, reloaded.Labels.ToArray());
    }

    [TestMethod]
    public void SaveAtomically_SharedTempNamesTakenByAnotherUser_SavesThroughThePrivateFolder()
    {
        // What another user of the machine could do to the old fixed staging folder: take its name.
        var sharedTemp = Path.Combine(Folder, "shared-tmp");
        Directory.CreateDirectory(sharedTemp);
        File.WriteAllText(Path.Combine(sharedTemp, "resnetml-save"), "planted");
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(Array.Empty<PixelRow>());
        using var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallOnnx() }).Fit(data);
        var path = Path.Combine(Folder, "model.zip");
        var previous = Environment.GetEnvironmentVariable("TMPDIR");
        Environment.SetEnvironmentVariable("TMPDIR", sharedTemp);
        try
        {
            ml.Model.SaveAtomically(transformer, data.Schema, path);
        }
        finally
        {
            Environment.SetEnvironmentVariable("TMPDIR", previous);
        }

        Assert.AreEqual("planted", File.ReadAllText(Path.Combine(sharedTemp, "resnetml-save")));
        var staging = Directory.GetDirectories(sharedTemp).Single();
        StringAssert.StartsWith(Path.GetFileName(staging), "resnetml-");
        if (!OperatingSystem.IsWindows())
        {
            Assert.AreEqual(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(staging));
        }

        Assert.IsEmpty(Directory.GetFiles(staging, "*", SearchOption.AllDirectories), "the staged ONNX file is deleted after the save");
        using var reloaded = (ResNetClassifierTransformer)ResNetClassifierTransformer.Load(ml, path);
        Assert.HasCount(2, reloaded.Labels);
    }

    private string SmallOnnx()
    {
        var path = Path.Combine(Folder, "small.onnx");
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 2));
        File.WriteAllBytes(path, ResNetOnnxExporter.ToBytes(model, new OnnxExportOptions { Labels = ["a", "b"], InputHeight = Size, InputWidth = Size, IncludeFeatures = true }));
        return path;
    }

    public sealed class PixelRow
    {
        [VectorType(3 * Size * Size)]
        public float[] Pixels { get; set; } = [];
    }
}
