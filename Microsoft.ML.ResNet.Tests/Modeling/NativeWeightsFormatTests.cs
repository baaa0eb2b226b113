using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.ML.ResNet.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Tests.Modeling;

/// <summary>Hostile headers of our own weights format, written at run time from a real file.</summary>
[TestClass]
public sealed class NativeWeightsFormatTests : TempFolderTest
{
    [TestMethod]
    public void Read_HonestSmallFile_RoundTrips()
    {
        var path = WriteSmall();

        var (_, tensors) = NativeWeightsFormat.Read(path);

        Assert.AreEqual(4L, tensors["w"].numel());
        foreach (var tensor in tensors.Values)
        {
            tensor.Dispose();
        }
    }

    [TestMethod]
    public void Read_NegativeByteLengthBalancingAHugeTensor_ThrowsInvalidDataWithinBudget()
    {
        // The two lengths sum to the real 16 data bytes, so only a per-tensor check catches the 40 GB tensor.
        var path = Rewrite(WriteSmall(), tensors =>
        {
            tensors[0]!["shape"] = new JsonArray(100_000, 100_000);
            tensors[0]!["byteLength"] = 40_000_000_000L;
            tensors.Add(new JsonObject { ["name"] = "balance", ["shape"] = new JsonArray(0), ["dType"] = "float32", ["byteLength"] = 16 - 40_000_000_000L });
        });

        var error = MemoryProbe.ThrowsWithinBudget<InvalidDataException>(() => NativeWeightsFormat.Read(path));

        StringAssert.Contains(error.Message, path);
        StringAssert.Contains(error.Message, "'balance'");
        StringAssert.Contains(error.Message, "-39999999984");
    }

    [TestMethod]
    public void Read_NegativeDimension_ThrowsInvalidDataNamingTheShape()
    {
        var path = Rewrite(WriteSmall(), tensors => tensors[0]!["shape"] = new JsonArray(-2, -2));

        var error = MemoryProbe.ThrowsWithinBudget<InvalidDataException>(() => NativeWeightsFormat.Read(path));

        StringAssert.Contains(error.Message, "[-2, -2]");
    }

    [TestMethod]
    public void Read_ShapeProductOverflows_ThrowsInvalidData()
    {
        var path = Rewrite(WriteSmall(), tensors => tensors[0]!["shape"] = new JsonArray(long.MaxValue / 2, 4));

        var error = MemoryProbe.ThrowsWithinBudget<InvalidDataException>(() => NativeWeightsFormat.Read(path));

        StringAssert.Contains(error.Message, path);
    }

    [TestMethod]
    public void ReadHeader_HeaderLengthClaimsTwoGigabytes_ThrowsInvalidDataWithinBudget()
    {
        var path = WriteSmall();
        var bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(12), int.MaxValue);
        File.WriteAllBytes(path, bytes);

        var error = MemoryProbe.ThrowsWithinBudget<InvalidDataException>(() => NativeWeightsFormat.ReadHeader(path));

        StringAssert.Contains(error.Message, path);
    }

    [TestMethod]
    public void ReadHeader_FileShorterThanPrefix_ThrowsInvalidData()
    {
        var path = Path.Combine(Folder, "short.resnet");
        File.WriteAllBytes(path, "RESNETML"u8.ToArray());

        var error = Assert.ThrowsExactly<InvalidDataException>(() => NativeWeightsFormat.ReadHeader(path));

        StringAssert.Contains(error.Message, path);
    }

    private string WriteSmall()
    {
        var path = Path.Combine(Folder, $"{Guid.NewGuid():N}.resnet");
        using var w = tensor(new float[] { 1, 2, 3, 4 });
        using var stream = File.Create(path);
        NativeWeightsFormat.Write(stream, new WeightsHeader(ResNetArchitecture.ResNet18, ResNetVariant.TorchVision, 2, ["a", "b"]), new Dictionary<string, Tensor> { ["w"] = w });
        return path;
    }

    /// <summary>Edits the JSON header's tensor list and writes the file back with the same data and checksum.</summary>
    private static string Rewrite(string path, Action<JsonArray> edit)
    {
        var bytes = File.ReadAllBytes(path);
        var jsonLength = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(12));
        var header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 16, jsonLength))!.AsObject();
        edit(header["tensors"]!.AsArray());
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        var rewritten = new byte[16 + json.Length + (bytes.Length - 16 - jsonLength)];
        bytes.AsSpan(0, 16).CopyTo(rewritten);
        BinaryPrimitives.WriteInt32LittleEndian(rewritten.AsSpan(12), json.Length);
        json.CopyTo(rewritten, 16);
        bytes.AsSpan(16 + jsonLength).CopyTo(rewritten.AsSpan(16 + json.Length));
        File.WriteAllBytes(path, rewritten);
        return path;
    }
}
