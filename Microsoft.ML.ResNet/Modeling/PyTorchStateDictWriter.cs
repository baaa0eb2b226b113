using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Modeling;

/// <summary>
/// Writes a state dict as <c>torch.save</c> does (PyTorch 1.6+): a zip holding <c>archive/data.pkl</c> (a protocol-2
/// pickle of an <c>OrderedDict</c> of tensors), one <c>archive/data/N</c> entry of raw little-endian bytes per storage,
/// and <c>archive/version</c>. The mirror image of what <see cref="ForeignWeightsCheck"/> and PyBridge read.
/// </summary>
/// <remarks>
/// Each tensor is rebuilt by <c>torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad,
/// backward_hooks)</c>; its storage is a persistent id <c>("storage", torch.FloatStorage, key, "cpu", numel)</c> that
/// <c>torch.load</c> resolves to the entry <c>archive/data/key</c>. Entries are stored uncompressed, as torch.save stores them.
/// </remarks>
internal static class PyTorchStateDictWriter
{
    private const string Archive = "archive";

    // torch.save's zip format version: PyTorch 1.6 to 2.x all read 3.
    private const string FormatVersion = "3\n";

    /// <summary>Writes <paramref name="tensors"/> (name, type, shape, bytes) to <paramref name="stream"/>.</summary>
    public static void Write(Stream stream, IReadOnlyList<WeightsTensor> tensors)
    {
        using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
        WriteEntry(zip, $"{Archive}/data.pkl", Pickle(tensors));
        for (var i = 0; i < tensors.Count; i++)
        {
            WriteEntry(zip, $"{Archive}/data/{i.ToString(CultureInfo.InvariantCulture)}", tensors[i].Data);
        }

        WriteEntry(zip, $"{Archive}/version", Encoding.ASCII.GetBytes(FormatVersion));
    }

    private static void WriteEntry(ZipArchive zip, string name, byte[] bytes)
    {
        var entry = zip.CreateEntry(name, CompressionLevel.NoCompression);
        using var output = entry.Open();
        output.Write(bytes);
    }

    /// <summary>The pickle of <c>OrderedDict([(name, _rebuild_tensor_v2(...)), ...])</c>, protocol 2.</summary>
    private static byte[] Pickle(IReadOnlyList<WeightsTensor> tensors)
    {
        var pickle = new PickleBuilder();
        pickle.Protocol2();
        pickle.Global("collections", "OrderedDict");
        pickle.EmptyTuple();
        pickle.Reduce();
        pickle.Mark();
        for (var i = 0; i < tensors.Count; i++)
        {
            var tensor = tensors[i];
            pickle.Unicode(tensor.Name);
            pickle.Global("torch._utils", "_rebuild_tensor_v2");
            pickle.Mark();

            // Persistent id of the storage.
            pickle.Mark();
            pickle.Unicode("storage");
            pickle.Global("torch", StorageType(tensor));
            pickle.Unicode(i.ToString(CultureInfo.InvariantCulture));
            pickle.Unicode("cpu");
            pickle.Int(tensor.ElementCount);
            pickle.Tuple();
            pickle.PersistentId();

            pickle.Int(0);                                         // storage offset
            pickle.IntTuple(tensor.Shape);                         // size
            pickle.IntTuple(ContiguousStrides(tensor.Shape));      // stride
            pickle.False();                                        // requires_grad
            pickle.Global("collections", "OrderedDict");           // backward_hooks: OrderedDict()
            pickle.EmptyTuple();
            pickle.Reduce();
            pickle.Tuple();
            pickle.Reduce();
        }

        pickle.SetItems();
        pickle.Stop();
        return pickle.ToArray();
    }

    private static string StorageType(WeightsTensor tensor) => tensor.Type switch
    {
        ScalarType.Float32 => "FloatStorage",
        ScalarType.Int64 => "LongStorage",
        _ => throw new NotSupportedException($"State-dict entry '{tensor.Name}' is {tensor.Type}; .pth files are written from float32 and int64 tensors."),
    };

    private static long[] ContiguousStrides(long[] shape)
    {
        var strides = new long[shape.Length];
        var step = 1L;
        for (var i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = step;
            step *= Math.Max(shape[i], 1);
        }

        return strides;
    }

    /// <summary>The few pickle opcodes a state dict needs (names as in CPython's pickletools).</summary>
    private sealed class PickleBuilder
    {
        private readonly MemoryStream _bytes = new();

        public void Protocol2() => _bytes.Write([0x80, 0x02]);

        public void Global(string module, string name) => _bytes.Write(Encoding.ASCII.GetBytes($"c{module}\n{name}\n"));

        public void EmptyTuple() => _bytes.WriteByte((byte)')');

        public void Mark() => _bytes.WriteByte((byte)'(');

        public void Tuple() => _bytes.WriteByte((byte)'t');

        public void Reduce() => _bytes.WriteByte((byte)'R');

        public void PersistentId() => _bytes.WriteByte((byte)'Q');

        public void SetItems() => _bytes.WriteByte((byte)'u');

        public void False() => _bytes.WriteByte(0x89);

        public void Stop() => _bytes.WriteByte((byte)'.');

        /// <summary>BINUNICODE: a 4-byte little-endian length, then UTF-8.</summary>
        public void Unicode(string text)
        {
            var utf8 = Encoding.UTF8.GetBytes(text);
            Span<byte> length = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)utf8.Length);
            _bytes.WriteByte((byte)'X');
            _bytes.Write(length);
            _bytes.Write(utf8);
        }

        /// <summary>BININT (signed 32-bit) when it fits, else LONG1 (8 little-endian two's-complement bytes).</summary>
        public void Int(long value)
        {
            Span<byte> buffer = stackalloc byte[8];
            if (value is >= int.MinValue and <= int.MaxValue)
            {
                BinaryPrimitives.WriteInt32LittleEndian(buffer, (int)value);
                _bytes.WriteByte((byte)'J');
                _bytes.Write(buffer[..4]);
            }
            else
            {
                BinaryPrimitives.WriteInt64LittleEndian(buffer, value);
                _bytes.Write([0x8a, 8]);
                _bytes.Write(buffer);
            }
        }

        public void IntTuple(long[] values)
        {
            if (values.Length == 0)
            {
                EmptyTuple();
                return;
            }

            Mark();
            foreach (var value in values)
            {
                Int(value);
            }

            Tuple();
        }

        public byte[] ToArray() => _bytes.ToArray();
    }
}
