using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Text.Json;

namespace Microsoft.ML.ResNet.Modeling;

/// <summary>
/// Checks the sizes a PyTorch <c>.pth</c> or a safetensors file declares against the bytes it really holds,
/// before TorchSharp.PyBridge reads it.
/// </summary>
/// <remarks>
/// PyBridge allocates what the file declares (the safetensors header length, each tensor's shape, a storage's
/// element count) before reading it, so a file of a few hundred bytes can ask for gigabytes. Here every
/// declared size is bounded by the file's own length first; nothing is allocated beyond the file's size
/// (and a .pth's pickle is only walked, its values never built).
/// </remarks>
internal static class ForeignWeightsCheck
{
    // The safetensors specification caps the header at 100 MB.
    private const long MaxSafetensorsHeader = 100L * 1024 * 1024;

    private static readonly Dictionary<string, int> SafetensorsElementSizes = new(StringComparer.Ordinal)
    {
        ["F64"] = 8, ["F32"] = 4, ["F16"] = 2, ["BF16"] = 2, ["I64"] = 8, ["I32"] = 4, ["I16"] = 2, ["I8"] = 1, ["U8"] = 1, ["BOOL"] = 1,
    };

    private static readonly Dictionary<string, int> StorageElementSizes = new(StringComparer.Ordinal)
    {
        ["DoubleStorage"] = 8, ["FloatStorage"] = 4, ["HalfStorage"] = 2, ["BFloat16Storage"] = 2, ["LongStorage"] = 8,
        ["IntStorage"] = 4, ["ShortStorage"] = 2, ["CharStorage"] = 1, ["ByteStorage"] = 1, ["BoolStorage"] = 1,
        ["ComplexDoubleStorage"] = 16, ["ComplexFloatStorage"] = 8,
    };

    /// <summary>Checks a safetensors file's header and every tensor's offsets, shape and type.</summary>
    /// <exception cref="InvalidDataException">A declared size disagrees with the file; the message names the
    /// file, the tensor, the declared and the actual value.</exception>
    public static void CheckSafetensors(string path)
    {
        using var stream = File.OpenRead(path);
        var fileLength = stream.Length;
        Span<byte> prefix = stackalloc byte[8];
        if (stream.ReadAtLeast(prefix, 8, throwOnEndOfStream: false) < 8)
        {
            throw new InvalidDataException($"Safetensors file '{path}' has {fileLength} bytes, fewer than its 8-byte header length.");
        }

        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength < 2 || headerLength > (ulong)Math.Min(MaxSafetensorsHeader, fileLength - 8))
        {
            throw new InvalidDataException(
                $"Safetensors file '{path}' declares a {headerLength}-byte header; the file holds {fileLength - 8} bytes after the length (and a header is at most {MaxSafetensorsHeader}).");
        }

        var json = new byte[headerLength];
        stream.ReadExactly(json);
        var dataLength = fileLength - 8 - (long)headerLength;
        Dictionary<string, JsonElement> header;
        try
        {
            header = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(json)
                ?? throw new InvalidDataException($"Safetensors file '{path}' has a null header.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Safetensors file '{path}' has a damaged header: {e.Message}", e);
        }

        foreach (var (name, entry) in header)
        {
            if (name == "__metadata__")
            {
                continue;
            }

            CheckSafetensorsEntry(path, name, entry, dataLength);
        }
    }

    /// <summary>Checks a PyTorch zip checkpoint: entry sizes against the file, each storage's element count
    /// against its data entry, each tensor's shape, stride and offset against its storage.</summary>
    /// <exception cref="InvalidDataException">A declared size disagrees with the file; the message names the file.</exception>
    public static void CheckPyTorchZip(string path)
    {
        var fileLength = new FileInfo(path).Length;
        ZipArchive zip;
        try
        {
            zip = ZipFile.OpenRead(path);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"PyTorch file '{path}' is not a readable zip: {e.Message}", e);
        }

        using (zip)
        {
            foreach (var entry in zip.Entries)
            {
                // torch.save stores its entries uncompressed: none can be longer than the file.
                if (entry.Length > fileLength || entry.Length < 0)
                {
                    throw new InvalidDataException(
                        $"PyTorch file '{path}': entry '{entry.FullName}' declares {entry.Length} bytes, more than the whole file ({fileLength}).");
                }
            }

            var pickle = zip.Entries.FirstOrDefault(e => e.Name == "data.pkl")
                ?? throw new InvalidDataException($"PyTorch file '{path}' has no data.pkl entry; is it a torch.save file?");
            var bytes = new byte[pickle.Length];
            using (var stream = pickle.Open())
            {
                try
                {
                    stream.ReadExactly(bytes);
                }
                catch (Exception e) when (e is EndOfStreamException or InvalidDataException)
                {
                    throw new InvalidDataException($"PyTorch file '{path}': entry '{pickle.FullName}' is shorter than it declares.", e);
                }
            }

            var storages = zip.Entries
                .Where(e => e.FullName.Contains("/data/", StringComparison.Ordinal))
                .GroupBy(e => e.Name, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.First().Length, StringComparer.Ordinal);
            new PickleWalker(path, bytes, storages).Walk();
        }
    }

    private static void CheckSafetensorsEntry(string path, string name, JsonElement entry, long dataLength)
    {
        try
        {
            var dtype = entry.GetProperty("dtype").GetString() ?? "";
            if (!SafetensorsElementSizes.TryGetValue(dtype, out var elementSize))
            {
                throw new InvalidDataException(
                    $"Safetensors file '{path}': tensor '{name}' has dtype '{dtype}', expected one of {string.Join(", ", SafetensorsElementSizes.Keys)}.");
            }

            var shape = entry.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            var offsets = entry.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0] || offsets[1] > dataLength)
            {
                throw new InvalidDataException(
                    $"Safetensors file '{path}': tensor '{name}' has data_offsets [{string.Join(", ", offsets)}], expected 0 <= begin <= end <= {dataLength} (the data section's length).");
            }

            var bytes = ElementCount(path, name, shape) * elementSize;
            if (bytes != offsets[1] - offsets[0])
            {
                throw new InvalidDataException(
                    $"Safetensors file '{path}': tensor '{name}' ({dtype}, shape [{string.Join(", ", shape)}]) needs {bytes} bytes but its data_offsets span {offsets[1] - offsets[0]}.");
            }
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"Safetensors file '{path}': tensor '{name}' has a damaged entry ({e.Message}).", e);
        }
    }

    private static long ElementCount(string path, string name, IReadOnlyCollection<long> shape)
    {
        var count = 1L;
        foreach (var dimension in shape)
        {
            // Bounding each step by 2^40 keeps the product exact and far from overflow; no real tensor is that big.
            if (dimension < 0 || (dimension > 0 && count > (1L << 40) / dimension))
            {
                throw new InvalidDataException($"'{path}': tensor '{name}' has shape [{string.Join(", ", shape)}], which is negative or absurdly large.");
            }

            count *= dimension;
        }

        return count;
    }

    /// <summary>
    /// Walks the opcodes of torch.save's pickle (protocols 2-4) with a stack of light values, checking each
    /// persistent storage id and each <c>_rebuild_tensor</c> call; builds no tensor and no large object.
    /// </summary>
    private sealed class PickleWalker
    {
        private static readonly object Mark = new();
        private readonly string _path;
        private readonly byte[] _pickle;
        private readonly IReadOnlyDictionary<string, long> _storageBytes;
        private readonly Stack<object?> _stack = new();
        private readonly Dictionary<long, object?> _memo = [];
        private int _position;

        public PickleWalker(string path, byte[] pickle, IReadOnlyDictionary<string, long> storageBytes)
        {
            _path = path;
            _pickle = pickle;
            _storageBytes = storageBytes;
        }

        public void Walk()
        {
            try
            {
                while (true)
                {
                    var opcode = ReadByte();
                    if (opcode == (byte)'.')
                    {
                        return;
                    }

                    Step(opcode);
                }
            }
            catch (Exception e) when (e is IndexOutOfRangeException or ArgumentOutOfRangeException or InvalidOperationException or InvalidCastException)
            {
                throw new InvalidDataException($"PyTorch file '{_path}' has a damaged pickle (data.pkl) near byte {_position}.", e);
            }
        }

        private void Step(byte opcode)
        {
            switch (opcode)
            {
                case 0x80: _position++; break;                                  // PROTO
                case 0x95: _position += 8; break;                               // FRAME
                case (byte)'}': case (byte)']': _stack.Push(new List<object?>()); break;
                case (byte)')': _stack.Push(new List<object?>()); break;
                case (byte)'(': _stack.Push(Mark); break;
                case (byte)'N': _stack.Push(null); break;
                case 0x88: _stack.Push(true); break;
                case 0x89: _stack.Push(false); break;
                case (byte)'K': _stack.Push((long)ReadByte()); break;
                case (byte)'M': _stack.Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break;
                case (byte)'J': _stack.Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break;
                case 0x8a: _stack.Push(ReadLong1()); break;
                case (byte)'G': _position += 8; _stack.Push(0L); break;       // BINFLOAT
                case (byte)'X': _stack.Push(Text(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break;
                case 0x8c: _stack.Push(Text(ReadByte())); break;               // SHORT_BINUNICODE
                case (byte)'U': _stack.Push(Text(ReadByte())); break;          // SHORT_BINSTRING
                case (byte)'T': _stack.Push(Text(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break;
                case (byte)'C': _position += ReadByte(); _stack.Push(null); break; // SHORT_BINBYTES
                case (byte)'c': _stack.Push(new Global(Line(), Line())); break;
                case 0x93: { var name = _stack.Pop(); _stack.Push(new Global((string)_stack.Pop()!, (string)name!)); break; }
                case (byte)'q': _memo[ReadByte()] = _stack.Peek(); break;
                case (byte)'r': _memo[BinaryPrimitives.ReadUInt32LittleEndian(Take(4))] = _stack.Peek(); break;
                case 0x94: _memo[_memo.Count] = _stack.Peek(); break;           // MEMOIZE
                case (byte)'h': _stack.Push(_memo[ReadByte()]); break;
                case (byte)'j': _stack.Push(_memo[BinaryPrimitives.ReadUInt32LittleEndian(Take(4))]); break;
                case (byte)'t': _stack.Push(PopToMark()); break;
                case 0x85: _stack.Push(PopN(1)); break;
                case 0x86: _stack.Push(PopN(2)); break;
                case 0x87: _stack.Push(PopN(3)); break;
                case (byte)'Q': _stack.Push(Persistent(_stack.Pop())); break;  // BINPERSID
                case (byte)'R': { var args = _stack.Pop(); _stack.Push(Reduce(_stack.Pop(), args)); break; }
                case 0x81: { _stack.Pop(); _stack.Pop(); _stack.Push(new List<object?>()); break; } // NEWOBJ
                case (byte)'s': _stack.Pop(); _stack.Pop(); break;              // SETITEM
                case (byte)'u': case (byte)'e': PopToMark(); break;             // SETITEMS, APPENDS
                case (byte)'a': case (byte)'b': _stack.Pop(); break;            // APPEND, BUILD
                default:
                    throw new InvalidDataException($"PyTorch file '{_path}': its pickle uses opcode 0x{opcode:x2} at byte {_position - 1}, which torch.save does not write for a state dict.");
            }
        }

        private object? Persistent(object? pid)
        {
            // ("storage", <Global torch.FloatStorage>, key, location, element count)
            if (pid is not List<object?> { Count: >= 5 } tuple || tuple[0] as string != "storage" || tuple[1] is not Global type || tuple[2] is not string key || tuple[4] is not long count)
            {
                throw new InvalidDataException($"PyTorch file '{_path}' has a persistent id that is not a storage.");
            }

            if (!StorageElementSizes.TryGetValue(type.Name, out var elementSize))
            {
                throw new InvalidDataException($"PyTorch file '{_path}': storage '{key}' has type {type.Name}, expected one of {string.Join(", ", StorageElementSizes.Keys)}.");
            }

            if (!_storageBytes.TryGetValue(key, out var available))
            {
                throw new InvalidDataException($"PyTorch file '{_path}': storage '{key}' has no data entry.");
            }

            if (count < 0 || count > available / elementSize)
            {
                throw new InvalidDataException(
                    $"PyTorch file '{_path}': storage '{key}' declares {count} elements of {elementSize} bytes, but its data entry holds {available} bytes.");
            }

            return new Storage(key, count);
        }

        private object? Reduce(object? callable, object? args)
        {
            if (callable is Global { Module: "torch._utils", Name: "_rebuild_tensor_v2" or "_rebuild_tensor" } && args is List<object?> { Count: >= 4 } a)
            {
                if (a[0] is not Storage storage || a[1] is not long offset || a[2] is not List<object?> shape || a[3] is not List<object?> stride
                    || shape.Count != stride.Count || shape.Any(d => d is not long) || stride.Any(d => d is not long))
                {
                    throw new InvalidDataException($"PyTorch file '{_path}' rebuilds a tensor from arguments that are not (storage, offset, shape, stride).");
                }

                // The last element read is offset + sum((size - 1) * stride); it must lie inside the storage.
                var name = $"storage {storage.Key}";
                var sizes = shape.Cast<long>().ToArray();
                var elements = ElementCount(_path, name, sizes);
                var last = offset;
                for (var i = 0; i < sizes.Length; i++)
                {
                    var step = (long)stride[i]!;
                    if (step < 0 || step > 1L << 40)
                    {
                        throw new InvalidDataException($"PyTorch file '{_path}': a tensor on {name} has stride {step}.");
                    }

                    last += sizes[i] == 0 ? 0 : (sizes[i] - 1) * step;
                }

                if (offset < 0 || (elements > 0 && last >= storage.Count))
                {
                    throw new InvalidDataException(
                        $"PyTorch file '{_path}': a tensor of shape [{string.Join(", ", sizes)}] at offset {offset} reaches element {last} of {name}, which has {storage.Count}.");
                }
            }

            return new List<object?>();
        }

        private List<object?> PopToMark()
        {
            var items = new List<object?>();
            while (_stack.Peek() != Mark)
            {
                items.Add(_stack.Pop());
            }

            _stack.Pop();
            items.Reverse();
            return items;
        }

        private List<object?> PopN(int count)
        {
            var items = new List<object?>();
            for (var i = 0; i < count; i++)
            {
                items.Add(_stack.Pop());
            }

            items.Reverse();
            return items;
        }

        private byte ReadByte() => _pickle[_position++];

        private ReadOnlySpan<byte> Take(int count)
        {
            var span = _pickle.AsSpan(_position, count);
            _position += count;
            return span;
        }

        private string Text(long length)
        {
            if (length > _pickle.Length - _position)
            {
                throw new InvalidDataException($"PyTorch file '{_path}': a string in its pickle declares {length} bytes, {_pickle.Length - _position} remain.");
            }

            return Encoding.UTF8.GetString(Take((int)length));
        }

        private long ReadLong1()
        {
            var length = ReadByte();
            var bytes = Take(length);
            return length switch
            {
                0 => 0,
                <= 8 => BinaryPrimitives.ReadInt64LittleEndian(SignExtend(bytes)),
                _ => long.MaxValue,
            };
        }

        private static byte[] SignExtend(ReadOnlySpan<byte> bytes)
        {
            var wide = new byte[8];
            bytes.CopyTo(wide);
            if ((bytes[^1] & 0x80) != 0)
            {
                wide.AsSpan(bytes.Length).Fill(0xff);
            }

            return wide;
        }

        private string Line()
        {
            var end = Array.IndexOf(_pickle, (byte)'\n', _position);
            if (end < 0)
            {
                throw new InvalidDataException($"PyTorch file '{_path}': unterminated GLOBAL in its pickle.");
            }

            var text = Encoding.UTF8.GetString(_pickle, _position, end - _position);
            _position = end + 1;
            return text;
        }

        private sealed record Global(string Module, string Name);

        private sealed record Storage(string Key, long Count);
    }
}
