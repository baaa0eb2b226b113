using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Microsoft.ML.ResNet.Modeling;

namespace Microsoft.ML.ResNet.Tests.Modeling;

/// <summary>
/// Hostile PyTorch and safetensors files, written at run time: each declares sizes far beyond its few bytes.
/// Each case has an honest twin that must load, so the crafting itself is checked.
/// </summary>
[TestClass]
public sealed class WeightsFileTests : TempFolderTest
{
    [TestMethod]
    public void Read_HonestCraftedSafetensors_Loads()
    {
        var path = Safetensors("""{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}""", dataBytes: 16);

        using var file = WeightsFile.Read(path);

        CollectionAssert.AreEqual(new long[] { 2, 2 }, file.Tensors["w"].shape);
    }

    [TestMethod]
    public void Read_SafetensorsHeaderLengthClaimsGigabytes_ThrowsInvalidDataWithinBudget()
    {
        var path = Safetensors("""{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}""", dataBytes: 16, declaredHeaderLength: 1_500_000_000);

        var error = MemoryProbe.ThrowsWithinBudget<InvalidDataException>(() => WeightsFile.Read(path));

        StringAssert.Contains(error.Message, path);
        StringAssert.Contains(error.Message, "1500000000");
    }

    [TestMethod]
    public void Read_SafetensorsHugeShapeOnSixteenBytes_ThrowsInvalidDataWithinBudget()
    {
        var path = Safetensors("""{"w":{"dtype":"F32","shape":[200000,200000],"data_offsets":[0,16]}}""", dataBytes: 16);

        var error = MemoryProbe.ThrowsWithinBudget<InvalidDataException>(() => WeightsFile.Read(path));

        StringAssert.Contains(error.Message, "'w'");
        StringAssert.Contains(error.Message, "data_offsets span 16");
    }

    [TestMethod]
    public void Read_SafetensorsOffsetsPastTheFile_ThrowsInvalidData()
    {
        var path = Safetensors("""{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[1000000,1000016]}}""", dataBytes: 16);

        var error = MemoryProbe.ThrowsWithinBudget<InvalidDataException>(() => WeightsFile.Read(path));

        StringAssert.Contains(error.Message, "data_offsets");
    }

    [TestMethod]
    public void Read_HonestCraftedPth_Loads()
    {
        var path = Pth(storageElements: 4, shape: [4], stride: [1], dataBytes: 16);

        using var file = WeightsFile.Read(path);

        CollectionAssert.AreEqual(new long[] { 4 }, file.Tensors["weight"].shape);
    }

    [TestMethod]
    public void Read_PthStorageClaimsTwoGigabytes_ThrowsInvalidDataWithinBudget()
    {
        var path = Pth(storageElements: 500_000_000, shape: [500_000_000], stride: [1], dataBytes: 16);

        var error = MemoryProbe.ThrowsWithinBudget<InvalidDataException>(() => WeightsFile.Read(path));

        StringAssert.Contains(error.Message, path);
        StringAssert.Contains(error.Message, "500000000 elements");
    }

    [TestMethod]
    public void Read_PthShapeFarBeyondItsStorage_ThrowsInvalidDataWithinBudget()
    {
        var path = Pth(storageElements: 4, shape: [100_000, 100_000], stride: [100_000, 1], dataBytes: 16);

        var error = MemoryProbe.ThrowsWithinBudget<InvalidDataException>(() => WeightsFile.Read(path));

        StringAssert.Contains(error.Message, "[100000, 100000]");
    }

    [TestMethod]
    public void Read_PthEntryLengthLargerThanTheFile_ThrowsInvalidData()
    {
        var path = Pth(storageElements: 4, shape: [4], stride: [1], dataBytes: 16);
        ZipSizes.Declare(path, "archive/data/0", 3_000_000_000);

        var error = MemoryProbe.ThrowsWithinBudget<InvalidDataException>(() => WeightsFile.Read(path));

        StringAssert.Contains(error.Message, path);
    }

    private string Safetensors(string header, int dataBytes, ulong? declaredHeaderLength = null)
    {
        var path = Path.Combine(Folder, $"{Guid.NewGuid():N}.safetensors");
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredHeaderLength ?? (ulong)json.Length);
        json.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>A torch.save-style zip (protocol-2 pickle of an OrderedDict with one float tensor "weight").</summary>
    private string Pth(int storageElements, int[] shape, int[] stride, int dataBytes)
    {
        var pickle = new List<byte> { 0x80, 0x02 };
        void Global(string module, string name) => pickle.AddRange(Encoding.ASCII.GetBytes($"c{module}\n{name}\n"));
        void Text(string value)
        {
            pickle.Add((byte)'X');
            pickle.AddRange(BitConverter.GetBytes(value.Length));
            pickle.AddRange(Encoding.UTF8.GetBytes(value));
        }

        void Int(int value)
        {
            pickle.Add((byte)'J');
            pickle.AddRange(BitConverter.GetBytes(value));
        }

        void Tuple(int[] values)
        {
            pickle.Add((byte)'(');
            foreach (var value in values)
            {
                Int(value);
            }

            pickle.Add((byte)'t');
        }

        Global("collections", "OrderedDict");
        pickle.AddRange([(byte)')', (byte)'R']);
        Text("weight");
        Global("torch._utils", "_rebuild_tensor_v2");
        pickle.Add((byte)'(');
        pickle.Add((byte)'(');
        Text("storage");
        Global("torch", "FloatStorage");
        Text("0");
        Text("cpu");
        Int(storageElements);
        pickle.AddRange([(byte)'t', (byte)'Q']);
        Int(0);
        Tuple(shape);
        Tuple(stride);
        pickle.Add(0x89);
        Global("collections", "OrderedDict");
        pickle.AddRange([(byte)')', (byte)'R', (byte)'t', (byte)'R', (byte)'s', (byte)'.']);

        var path = Path.Combine(Folder, $"{Guid.NewGuid():N}.pth");
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        {
            Add(zip, "archive/data.pkl", pickle.ToArray());
            Add(zip, "archive/data/0", new byte[dataBytes]);
            Add(zip, "archive/version", "3\n"u8.ToArray());
        }

        return path;
    }

    private static void Add(ZipArchive zip, string name, byte[] content)
    {
        using var stream = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
        stream.Write(content);
    }
}
