using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Onnx;

namespace Microsoft.ML.ResNet.Export;

/// <summary>
/// Writes one model of a Triton Inference Server (KServe v2) model repository from a contract ONNX graph:
/// <c>DIR/name/config.pbtxt</c> (platform <c>onnxruntime_onnx</c>, <c>max_batch_size</c>, dynamic batching, every input
/// and output with its dims after the batch axis, <c>label_filename</c> on the probabilities), <c>DIR/name/1/model.onnx</c>
/// and <c>DIR/name/labels.txt</c> (one label a line, in output order, as Triton's classification extension reads it).
/// </summary>
/// <remarks>
/// The model folder is built beside its final place under a hidden name, then renamed into place: Triton (which may poll
/// the repository) sees a complete model or none, and a failure leaves nothing behind.
/// </remarks>
internal static partial class TritonModelRepository
{
    public const string ConfigFile = "config.pbtxt";
    public const string LabelsFile = "labels.txt";
    public const string ModelFile = "model.onnx";
    public const string Version = "1";

    /// <summary>Triton's backend for ONNX models.</summary>
    public const string Platform = "onnxruntime_onnx";

    /// <summary>Writes <c>directory/modelName</c>; returns its path.</summary>
    /// <param name="onnx">A graph under <see cref="OnnxContract"/> (dynamic batch axis).</param>
    /// <param name="labels">The classifier's labels, in the graph's logit order.</param>
    /// <param name="directory">The repository folder; created when missing.</param>
    /// <param name="modelName">The model's folder and name.</param>
    /// <param name="maxBatchSize">Largest batch Triton forms.</param>
    /// <param name="maxQueueDelayMicroseconds">How long Triton holds a request to fill a batch.</param>
    /// <exception cref="ArgumentException">A bad model name, or a label holding a line break.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A batch size below 1 or a negative delay.</exception>
    /// <exception cref="IOException">The model folder exists and is not empty, or writing failed; the message names the path.</exception>
    /// <exception cref="InvalidDataException">The graph is not one of ours (the batch axis is fixed).</exception>
    public static string Write(byte[] onnx, IReadOnlyList<string> labels, string directory, string modelName, int maxBatchSize, int maxQueueDelayMicroseconds)
    {
        ArgumentNullException.ThrowIfNull(onnx);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        CheckName(modelName);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatchSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(maxQueueDelayMicroseconds);
        var bad = labels.FirstOrDefault(l => l.Contains('\n') || l.Contains('\r'));
        if (bad is not null)
        {
            throw new ArgumentException($"Label '{bad.ReplaceLineEndings("\\n")}' holds a line break; {LabelsFile} has one label a line.", nameof(labels));
        }

        var config = Config(ModelProto.Parser.ParseFrom(onnx).Graph, modelName, maxBatchSize, maxQueueDelayMicroseconds);
        var root = Path.GetFullPath(directory);
        var target = Path.Combine(root, modelName);
        if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any())
        {
            throw new IOException($"Cannot write the Triton model '{target}': the folder exists and is not empty. Choose another name or folder, or remove it.");
        }

        if (File.Exists(target))
        {
            throw new IOException($"Cannot write the Triton model '{target}': a file stands there.");
        }

        Directory.CreateDirectory(root);

        // Beside the target, so the final rename stays on one file system and is atomic.
        var staging = Path.Combine(root, $".{modelName}.{Guid.NewGuid():N}.tmp");
        try
        {
            Directory.CreateDirectory(Path.Combine(staging, Version));
            File.WriteAllBytes(Path.Combine(staging, Version, ModelFile), onnx);
            File.WriteAllText(Path.Combine(staging, LabelsFile), string.Concat(labels.Select(l => l + "\n")), new UTF8Encoding(false));
            File.WriteAllText(Path.Combine(staging, ConfigFile), config, new UTF8Encoding(false));
            if (Directory.Exists(target))
            {
                Directory.Delete(target);
            }

            Directory.Move(staging, target);
            return target;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(staging);
            throw new IOException($"Could not write the Triton model '{target}' (nothing was left behind): {e.Message}", e);
        }
        catch
        {
            TryDelete(staging);
            throw;
        }
    }

    /// <summary>The config.pbtxt text (protobuf text format of Triton's ModelConfig).</summary>
    internal static string Config(GraphProto graph, string modelName, int maxBatchSize, int maxQueueDelayMicroseconds)
    {
        var initializers = graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"name: \"{modelName}\"\n");
        text.Append(CultureInfo.InvariantCulture, $"platform: \"{Platform}\"\n");
        text.Append(CultureInfo.InvariantCulture, $"max_batch_size: {maxBatchSize}\n");
        AppendTensors(text, "input", graph.Input.Where(i => !initializers.Contains(i.Name)), labelled: null);
        AppendTensors(text, "output", graph.Output, labelled: OnnxContract.ProbabilitiesOutput);
        text.Append("dynamic_batching {\n");
        text.Append(CultureInfo.InvariantCulture, $"  max_queue_delay_microseconds: {maxQueueDelayMicroseconds}\n");
        text.Append("}\n");
        return text.ToString();
    }

    private static void AppendTensors(StringBuilder text, string kind, IEnumerable<ValueInfoProto> tensors, string? labelled)
    {
        var entries = tensors.Select(tensor =>
        {
            var entry = new StringBuilder();
            entry.Append("  {\n");
            entry.Append(CultureInfo.InvariantCulture, $"    name: \"{tensor.Name}\"\n");
            entry.Append(CultureInfo.InvariantCulture, $"    data_type: {DataType(tensor)}\n");
            entry.Append(CultureInfo.InvariantCulture, $"    dims: [ {string.Join(", ", DimsAfterBatch(tensor))} ]\n");
            if (tensor.Name == labelled)
            {
                entry.Append(CultureInfo.InvariantCulture, $"    label_filename: \"{LabelsFile}\"\n");
            }

            entry.Append("  }");
            return entry.ToString();
        });
        text.Append(CultureInfo.InvariantCulture, $"{kind} [\n{string.Join(",\n", entries)}\n]\n");
    }

    /// <summary>Triton's dims leave out the batch axis (max_batch_size > 0); a dim the graph does not fix is -1.</summary>
    private static IEnumerable<long> DimsAfterBatch(ValueInfoProto tensor)
    {
        var dims = tensor.Type?.TensorType?.Shape?.Dim ?? throw new InvalidDataException($"Tensor '{tensor.Name}' has no declared shape.");
        if (dims.Count < 2 || dims[0].DimValue > 0)
        {
            throw new InvalidDataException(
                $"Tensor '{tensor.Name}' needs a dynamic batch axis first for Triton's batching; its shape is [{string.Join(", ", dims.Select(d => d.DimValue > 0 ? d.DimValue.ToString(CultureInfo.InvariantCulture) : d.DimParam))}].");
        }

        return dims.Skip(1).Select(d => d.DimValue > 0 ? d.DimValue : -1);
    }

    private static string DataType(ValueInfoProto tensor) => (TensorProto.Types.DataType)(tensor.Type?.TensorType?.ElemType ?? 0) switch
    {
        TensorProto.Types.DataType.Float => "TYPE_FP32",
        TensorProto.Types.DataType.Float16 => "TYPE_FP16",
        TensorProto.Types.DataType.Int64 => "TYPE_INT64",
        var other => throw new InvalidDataException($"Tensor '{tensor.Name}' is {other}; the Triton repository writer knows float, float16 and int64 tensors."),
    };

    private static void CheckName(string modelName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelName);
        if (!ModelName().IsMatch(modelName) || modelName is "." or "..")
        {
            throw new ArgumentException(
                $"Model name '{modelName}' is not a plain folder name; use letters, digits, '_', '-' and '.' (e.g. \"resnet\").", nameof(modelName));
        }
    }

    [GeneratedRegex("^[A-Za-z0-9_.-]+$")]
    private static partial Regex ModelName();

    private static void TryDelete(string folder)
    {
        try
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The write's own failure is the one to report.
        }
    }
}
