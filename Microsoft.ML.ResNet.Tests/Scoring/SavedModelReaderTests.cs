using System.Buffers.Binary;
using System.IO.Compression;
using Microsoft.ML.ResNet.Scoring;

namespace Microsoft.ML.ResNet.Tests.Scoring;

/// <summary>Model zips whose declared sizes lie, written at run time.</summary>
[TestClass]
public sealed class SavedModelReaderTests : TempFolderTest
{
    private const string EntryName = "TransformerChain/Transform_000/OnnxModel";

    [TestMethod]
    public void Read_EntryAndPrefixClaimTwoGigabytes_ThrowsInvalidDataWithinBudget()
    {
        // Prefix and zip header agree with each other (so a consistency check alone passes); the data does not.
        var path = Zip(prefix: int.MaxValue - 4, payload: 64, CompressionLevel.Optimal);
        ZipSizes.Declare(path, EntryName, int.MaxValue);

        var error = MemoryProbe.ThrowsWithinBudget<InvalidDataException>(() => SavedModelReader.Read(path));

        StringAssert.Contains(error.Message, path);
        StringAssert.Contains(error.Message, EntryName);
    }

    [TestMethod]
    public void Read_StoredEntryClaimsMoreThanTheFile_ThrowsInvalidDataWithinBudget()
    {
        var path = Zip(prefix: 1_000_000_000, payload: 64, CompressionLevel.NoCompression);
        ZipSizes.Declare(path, EntryName, 1_000_000_004);

        var error = MemoryProbe.ThrowsWithinBudget<InvalidDataException>(() => SavedModelReader.Read(path));

        StringAssert.Contains(error.Message, path);
    }

    [TestMethod]
    public void Read_PrefixDisagreesWithEntry_ThrowsInvalidDataNamingBoth()
    {
        var path = Zip(prefix: 1_000_000, payload: 64, CompressionLevel.Optimal);

        var error = MemoryProbe.ThrowsWithinBudget<InvalidDataException>(() => SavedModelReader.Read(path));

        StringAssert.Contains(error.Message, "1000000");
        StringAssert.Contains(error.Message, "64");
    }

    [TestMethod]
    public void Read_EntryIsNotOnnx_ThrowsInvalidDataNamingTheEntry()
    {
        var path = Zip(prefix: 64, payload: 64, CompressionLevel.Optimal, fill: 0xff);

        var error = Assert.ThrowsExactly<InvalidDataException>(() => SavedModelReader.Read(path));

        StringAssert.Contains(error.Message, EntryName);
    }

    [TestMethod]
    public void Load_LyingZip_ThrowsInvalidDataNamingTheFile()
    {
        var path = Zip(prefix: int.MaxValue - 4, payload: 64, CompressionLevel.Optimal);
        ZipSizes.Declare(path, EntryName, int.MaxValue);

        var error = MemoryProbe.ThrowsWithinBudget<InvalidDataException>(() => ResNetClassifierTransformer.Load(new MLContext(1), path));

        StringAssert.Contains(error.Message, path);
    }

    private string Zip(int prefix, int payload, CompressionLevel level, byte fill = 0)
    {
        var path = Path.Combine(Folder, $"{Guid.NewGuid():N}.zip");
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        using var stream = zip.CreateEntry(EntryName, level).Open();
        var bytes = new byte[4 + payload];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, prefix);
        bytes.AsSpan(4).Fill(fill);
        stream.Write(bytes);
        return path;
    }
}
