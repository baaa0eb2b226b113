using System.Collections;
using Microsoft.ML.ResNet.Native;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Modeling;

/// <summary>
/// The tensors of a weight file in any format we read, with what the file says about its network
/// (ONNX files, safetensors files we wrote and state dicts with the seed's keys say which network; other PyTorch and
/// safetensors files do not). Owns the tensors: dispose it.
/// </summary>
internal sealed class WeightsFile : IDisposable
{
    private const string DataParallelPrefix = "module.";

    private WeightsFile(
        string path,
        WeightsFormat format,
        Dictionary<string, Tensor> tensors,
        WeightsHeader? header,
        ResNetSpec? describedSpec = null,
        ImageNormalization? normalization = null,
        ResNetWeightsLayout layout = ResNetWeightsLayout.TorchVision)
    {
        Path = path;
        Format = format;
        Tensors = tensors;
        Header = header;
        Layout = layout;
        DescribedSpec = describedSpec
            ?? (header is null ? null : new ResNetSpec(header.Architecture, header.NumClasses, header.Variant, StageDepths: header.StageDepths));
        Normalization = normalization;
    }

    public string Path { get; }

    public WeightsFormat Format { get; }

    public IReadOnlyDictionary<string, Tensor> Tensors { get; }

    /// <summary>Architecture and labels, from safetensors files we wrote (their metadata); null for PyTorch files and
    /// other safetensors files.</summary>
    public WeightsHeader? Header { get; }

    /// <summary>The key names the file used. <see cref="Tensors"/> are always under torchvision's keys (a seed file's
    /// keys are mapped on reading); <see cref="FileKey"/> gives a key back in the file's own naming, for messages.</summary>
    public ResNetWeightsLayout Layout { get; }

    /// <summary>
    /// The wiring of the file's network: what the file says (our safetensors metadata, ONNX, seed keys), else what its keys show (a
    /// basic-block network with a projection shortcut on layer1's first block is the seed's wiring).
    /// </summary>
    public ResNetVariant Variant =>
        DescribedSpec?.Variant
        ?? (Tensors.ContainsKey("layer1.0.downsample.0.weight") && !Tensors.ContainsKey("layer1.0.conv3.weight")
            ? ResNetVariant.ProjectionShortcuts
            : ResNetVariant.TorchVision);

    /// <summary>
    /// The network the file describes, for ONNX, safetensors files we wrote and files with the seed's keys
    /// (null for other PyTorch and safetensors files): the architecture
    /// (ResNet18 for basic blocks, ResNet50 for bottlenecks unless the depths name another), custom
    /// <see cref="ResNetSpec.StageDepths"/> and the head's class count. A file without a head
    /// (<see cref="HeadClassCount"/> null) says ImageNet's 1000 here: build with your own class count and load with a fresh head.
    /// </summary>
    public ResNetSpec? DescribedSpec { get; }

    /// <summary>The normalization the weights expect of 0..1 RGB pixels, when the file says (the DnnImageFeaturizer
    /// package's ONNX with its preprocessing graph beside it); null otherwise.</summary>
    public ImageNormalization? Normalization { get; }

    /// <summary>Class count read off <c>fc.weight</c>, or null when the file has no head.</summary>
    public int? HeadClassCount => Tensors.TryGetValue("fc.weight", out var fc) && fc.dim() == 2 ? (int)fc.shape[0] : null;

    /// <summary>Reads <paramref name="path"/>, telling its format by content.</summary>
    /// <exception cref="ArgumentException">The path is empty.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is of no format we know, or is truncated or damaged;
    /// the message names the file and the format it looked like.</exception>
    public static WeightsFile Read(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Weights file '{path}' does not exist.", path);
        }

        TorchNativeLoader.EnsureLoaded();
        var format = Detect(path);
        if (format == WeightsFormat.Onnx)
        {
            var import = OnnxResNetImporter.Read(path);
            return new WeightsFile(path, format, import.Tensors, null, import.Spec, import.Normalization);
        }

        // PyBridge allocates whatever sizes the file declares; they are checked against the file first.
        if (format == WeightsFormat.SafeTensors)
        {
            ForeignWeightsCheck.CheckSafetensors(path);
        }
        else if (IsZip(path))
        {
            ForeignWeightsCheck.CheckPyTorchZip(path);
        }

        var (header, normalization) = format == WeightsFormat.SafeTensors ? SafetensorsFormat.ReadDescription(path) : (null, null);
        Dictionary<string, Tensor> tensors;
        try
        {
            tensors = format == WeightsFormat.PyTorch
                ? ToTensorDictionary(PyTorchUnpickler.UnpickleStateDict(path), path)
                : Safetensors.LoadStateDict(path);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"Weights file '{path}' looks like a {format} file but could not be read (truncated or damaged?): {e.Message}", e);
        }

        tensors = StripDataParallelPrefix(tensors);
        if (!SeedLayout.Recognizes(tensors.Keys))
        {
            return new WeightsFile(path, format, tensors, header, normalization: normalization);
        }

        var mapped = new Dictionary<string, Tensor>(tensors.Count, StringComparer.Ordinal);
        foreach (var (key, tensor) in tensors)
        {
            if (!mapped.TryAdd(SeedLayout.ToTorchVision(key), tensor))
            {
                throw Refuse(tensors.Values, $"Weights file '{path}' mixes the seed's keys and torchvision's: '{key}' and '{SeedLayout.ToTorchVision(key)}' name the same tensor.");
            }
        }

        var spec = header is null ? SeedLayout.Describe(mapped) : null;
        if (spec is not null && spec.BlocksPerStage.Any(d => d == 0))
        {
            throw Refuse(
                tensors.Values,
                $"Weights file '{path}' has the seed's keys ('{SeedLayout.StemKey}') but blocks per stage {string.Join('/', spec.BlocksPerStage)}: "
                + "every stage (layer1 to layer4) needs at least one block ('layerN.0.left.0.weight').");
        }

        return new WeightsFile(path, format, mapped, header, spec, normalization, ResNetWeightsLayout.Seed);
    }

    /// <summary>Frees the tensors read so far and returns the error to throw.</summary>
    private static InvalidDataException Refuse(IEnumerable<Tensor> tensors, string message)
    {
        foreach (var tensor in tensors)
        {
            tensor.Dispose();
        }

        return new InvalidDataException(message);
    }

    /// <summary>A key of <see cref="Tensors"/> (torchvision's naming) as the file itself names it.</summary>
    public string FileKey(string key)
    {
        if (Layout != ResNetWeightsLayout.Seed)
        {
            return key;
        }

        try
        {
            return SeedLayout.ToSeed(key);
        }
        catch (ArgumentException)
        {
            return key;
        }
    }

    public void Dispose()
    {
        foreach (var tensor in Tensors.Values)
        {
            tensor.Dispose();
        }
    }

    private static bool IsZip(string path)
    {
        Span<byte> start = stackalloc byte[4];
        using var stream = File.OpenRead(path);
        return stream.ReadAtLeast(start, 4, throwOnEndOfStream: false) == 4 && start.SequenceEqual("PK\x03\x04"u8);
    }

    private static WeightsFormat Detect(string path)
    {
        Span<byte> start = stackalloc byte[16];
        int read;
        using (var stream = File.OpenRead(path))
        {
            read = stream.ReadAtLeast(start, start.Length, throwOnEndOfStream: false);
        }

        start = start[..read];
        // torch.save writes a zip since PyTorch 1.6 and a protocol-2 pickle before that.
        if (start.StartsWith("PK\x03\x04"u8) || start is [0x80, 0x02, ..])
        {
            return WeightsFormat.PyTorch;
        }

        // safetensors: an 8-byte little-endian header length, then a JSON object.
        if (read >= 9 && start[8] == (byte)'{')
        {
            return WeightsFormat.SafeTensors;
        }

        if (LooksLikeOnnx(start))
        {
            return WeightsFormat.Onnx;
        }

        throw new InvalidDataException(
            $"'{path}' is not a weights file we can read ({read} bytes at its start match none of: PyTorch .pth (zip or pickle), .safetensors, ONNX).");
    }

    /// <summary>
    /// A serialized ModelProto starts with its lowest-numbered field: ir_version (field 1, varint: 0x08 and a small
    /// number), then another field's tag (field 2 to 20, varint or length-delimited). Without ir_version it starts
    /// with producer_name (0x12) or the graph (0x3A).
    /// </summary>
    private static bool LooksLikeOnnx(ReadOnlySpan<byte> start)
    {
        static bool IsTag(byte b) => (b & 0x07) is 0 or 2 && (b >> 3) is >= 2 and <= 20;
        return start.Length >= 3 && (start[0] == 0x08 && start[1] is > 0 and < 0x80 && IsTag(start[2]) || start[0] is 0x12 or 0x3A);
    }

    /// <summary>Checkpoints of <c>nn.DataParallel</c> and DistributedDataParallel models prefix every key with "module.".</summary>
    private static Dictionary<string, Tensor> StripDataParallelPrefix(Dictionary<string, Tensor> tensors) =>
        tensors.Count > 0 && tensors.Keys.All(k => k.StartsWith(DataParallelPrefix, StringComparison.Ordinal))
            ? tensors.ToDictionary(kv => kv.Key[DataParallelPrefix.Length..], kv => kv.Value, StringComparer.Ordinal)
            : tensors;

    private static Dictionary<string, Tensor> ToTensorDictionary(Hashtable table, string path)
    {
        var tensors = new Dictionary<string, Tensor>(table.Count);
        foreach (DictionaryEntry entry in table)
        {
            if (entry.Value is not Tensor tensor)
            {
                throw new InvalidDataException($"'{path}' is not a state dict: entry '{entry.Key}' is {entry.Value?.GetType().Name ?? "null"}, not a tensor.");
            }

            tensors.Add((string)entry.Key, tensor);
        }

        return tensors;
    }
}
