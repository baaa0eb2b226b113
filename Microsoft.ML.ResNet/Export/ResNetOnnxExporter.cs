using System.Reflection;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Export.Emitters;
using Microsoft.ML.ResNet.IO;
using Microsoft.ML.ResNet.Modeling;
using Onnx;

namespace Microsoft.ML.ResNet;

/// <summary>
/// Our ONNX exporter (TorchSharp has none): turns ResNet weights into an ONNX model, opset 17, that takes
/// <c>pixels</c> [N, 3, H, W] in 0..1 and gives <c>logits</c>, <c>probabilities</c> and <c>features</c>; the input
/// normalization is the graph's first nodes, BatchNorm is folded into the convolutions, and the labels, normalization,
/// input size and architecture are in its metadata. It is the graph every classifier of this library scores with.
/// </summary>
/// <remarks>
/// A trained or loaded classifier writes the same file with <see cref="ResNetClassifierTransformer.SaveOnnx(string)"/>;
/// this class exports a weights file (a PyTorch <c>.pth</c> state dict, <c>.safetensors</c>, our own <c>.safetensors</c> (from SaveWeights), or an
/// ONNX ResNet to re-export) without an ML.NET pipeline.
/// </remarks>
/// <example>See the README's "Exporting to ONNX" and Microsoft.ML.ResNet.Tests/Export/WeightsExportTests.cs.</example>
public static class ResNetOnnxExporter
{
    /// <summary>IR version 8 is what opset 17 shipped with; ONNX Runtime and onnx.checker both accept it.</summary>
    private const long IrVersion = 8;

    private static readonly string ProducerVersion =
        typeof(ResNetOnnxExporter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(ResNetOnnxExporter).Assembly.GetName().Version?.ToString()
        ?? "unknown";

    /// <summary>Builds the ONNX model. Reads parameters only: the model's train/eval mode is not touched,
    /// and the graph always has eval semantics (BatchNorm running statistics).</summary>
    /// <exception cref="ArgumentNullException">A null argument.</exception>
    /// <exception cref="ArgumentException">Bad options: label count, mean/std, input size.</exception>
    /// <exception cref="NotSupportedException">The module tree holds a module the exporter cannot express.</exception>
    internal static ModelProto ToModelProto(ResNetModel model, OnnxExportOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        var classes = (int)model.fc.out_features;
        var featureSize = (int)model.fc.in_features;
        var labels = Validate(model, options, classes);
        var mean = options.Mean ?? Defaults.ImageNetMean;
        var std = options.Std ?? Defaults.ImageNetStd;

        var graph = new OnnxGraphBuilder(
            model.Spec.Architecture.ToString().ToLowerInvariant(),
            [OnnxContract.PixelsInput, OnnxContract.LogitsOutput, OnnxContract.ProbabilitiesOutput, OnnxContract.FeaturesOutput, OnnxContract.HeatMapsOutput]);
        graph.AddInput(OnnxContract.PixelsInput, null, 3, options.InputHeight, options.InputWidth);
        var meanTensor = graph.AddInitializer("normalize.mean", mean, 1, 3, 1, 1);
        var stdTensor = graph.AddInitializer("normalize.std", std, 1, 3, 1, 1);
        var centred = graph.AddNode("Sub", "normalize.centred", [OnnxContract.PixelsInput, meanTensor]);
        var normalized = graph.AddNode("Div", "normalize", [centred, stdTensor]);

        var (features, logits) = ResNetModelEmitter.Emit(
            new ModuleTreeWalker(graph),
            model,
            normalized,
            options.IncludeFeatures ? OnnxContract.FeaturesOutput : null,
            OnnxContract.LogitsOutput);
        graph.AddNodeWithOutput("Softmax", OnnxContract.ProbabilitiesOutput, [logits], OnnxGraphBuilder.Int("axis", 1));

        graph.AddOutput(logits, null, classes);
        graph.AddOutput(OnnxContract.ProbabilitiesOutput, null, classes);
        if (options.IncludeFeatures)
        {
            graph.AddOutput(features, null, featureSize);
        }

        var proto = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = OnnxContract.ProducerName,
            ProducerVersion = ProducerVersion,
            Graph = graph.Build(),
        };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = OnnxContract.Opset });
        AddMetadata(proto, OnnxContract.Metadata.Architecture, model.Spec.Architecture.ToString());
        AddMetadata(proto, OnnxContract.Metadata.Variant, model.Spec.Variant.ToString());
        AddMetadata(proto, OnnxContract.Metadata.StageDepths, JsonSerializer.Serialize(model.Spec.BlocksPerStage));
        AddMetadata(proto, OnnxContract.Metadata.Labels, JsonSerializer.Serialize(labels));
        AddMetadata(proto, OnnxContract.Metadata.Mean, JsonSerializer.Serialize(mean));
        AddMetadata(proto, OnnxContract.Metadata.Std, JsonSerializer.Serialize(std));
        AddMetadata(proto, OnnxContract.Metadata.InputSize, JsonSerializer.Serialize(new[] { options.InputHeight, options.InputWidth }));
        if (options.IncludeFeatures)
        {
            AddMetadata(proto, OnnxContract.Metadata.FeatureSize, featureSize.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        if (options.IncludeHeatMaps)
        {
            // The same surgery a saved model gets, so there is one definition of the maps.
            HeatMapGraph.AddOutput(proto);
        }

        return proto;
    }

    /// <summary>The serialized ONNX model; see <see cref="ToModelProto"/>.</summary>
    internal static byte[] ToBytes(ResNetModel model, OnnxExportOptions options) => ToModelProto(model, options).ToByteArray();

    /// <summary>Writes the ONNX model to <paramref name="path"/> atomically: an existing file is replaced only
    /// by a complete new one, and a failure leaves it untouched with no temp file behind.</summary>
    /// <exception cref="ArgumentException">An empty path, or bad options (see <see cref="ToModelProto"/>).</exception>
    internal static void Export(ResNetModel model, string path, OnnxExportOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var proto = ToModelProto(model, options);
        AtomicFile.Write(path, proto.WriteTo);
    }

    /// <summary>
    /// Exports the network in a weights file to <paramref name="onnxPath"/>. Every tensor's name and shape is checked
    /// against the architecture before anything is written. The write is atomic: the file appears complete or not at
    /// all, and a failure leaves an existing file as it was with no temp file behind. The folder must exist.
    /// </summary>
    /// <param name="weightsPath">A PyTorch <c>.pth</c> state dict or <c>.safetensors</c> file with torchvision's key names,
    /// our own <c>.safetensors</c>, or an ONNX ResNet (mapped onto our modules by its structure).</param>
    /// <param name="onnxPath">The .onnx file to write; an existing file is replaced.</param>
    /// <param name="options">Architecture (needed for .pth and .safetensors), labels, normalization, input size;
    /// null for the defaults (the file's own description, 224x224, ImageNet normalization, with <c>features</c>).</param>
    /// <exception cref="ArgumentNullException">A path is null.</exception>
    /// <exception cref="ArgumentException">A path is empty; the options disagree with the file (architecture, stage depths,
    /// label count), leave the architecture unknown, or are out of range (mean/std, input size); the message names the file.</exception>
    /// <exception cref="FileNotFoundException">No file at <paramref name="weightsPath"/>.</exception>
    /// <exception cref="InvalidDataException">The weights file is damaged or does not hold a ResNet; the message names it.</exception>
    /// <exception cref="DirectoryNotFoundException">The folder of <paramref name="onnxPath"/> does not exist.</exception>
    /// <exception cref="UnauthorizedAccessException"><paramref name="onnxPath"/> is a read-only file; it is left as it is.</exception>
    /// <exception cref="IOException"><paramref name="onnxPath"/> is a folder, or the write failed; the message names the path.</exception>
    public static void Export(string weightsPath, string onnxPath, OnnxExportOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(weightsPath);
        ArgumentException.ThrowIfNullOrWhiteSpace(onnxPath);
        var onnx = FromWeightsFile(weightsPath, options ?? new OnnxExportOptions(), labelsRequired: false);
        AtomicFile.Write(onnxPath, stream => stream.Write(onnx), createFolder: false);
    }

    /// <summary>
    /// Exports the network in a weights file to <paramref name="onnx"/>: the same bytes as
    /// <see cref="Export(string, string, OnnxExportOptions?)"/>. The caller owns the stream (written from its position, not
    /// closed); the model is built in memory first, so a bad file or bad options leave the stream untouched.
    /// </summary>
    /// <param name="weightsPath">As for <see cref="Export(string, string, OnnxExportOptions?)"/>.</param>
    /// <param name="onnx">A writable stream.</param>
    /// <param name="options">As for <see cref="Export(string, string, OnnxExportOptions?)"/>.</param>
    /// <exception cref="ArgumentNullException">A null argument.</exception>
    /// <exception cref="ArgumentException">The stream cannot be written; or as for <see cref="Export(string, string, OnnxExportOptions?)"/>.</exception>
    /// <exception cref="FileNotFoundException">No file at <paramref name="weightsPath"/>.</exception>
    /// <exception cref="InvalidDataException">The weights file is damaged or does not hold a ResNet.</exception>
    public static void Export(string weightsPath, Stream onnx, OnnxExportOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(weightsPath);
        ArgumentNullException.ThrowIfNull(onnx);
        if (!onnx.CanWrite)
        {
            throw new ArgumentException($"The stream ({onnx.GetType().Name}) cannot be written: give a writable stream.", nameof(onnx));
        }

        onnx.Write(FromWeightsFile(weightsPath, options ?? new OnnxExportOptions(), labelsRequired: false));
    }

    /// <summary>
    /// The one way from a weights file to our ONNX: resolves the network the file and the options describe, checks
    /// every tensor, exports. <see cref="OnnxExportOptions.Labels"/> falls back to the file's labels, then (unless
    /// <paramref name="labelsRequired"/>) to "0".."K-1".
    /// </summary>
    internal static byte[] FromWeightsFile(string path, OnnxExportOptions options, bool labelsRequired)
    {
        using var network = WeightsFileNetwork.Load(path, options.Architecture, options.StageDepths, variant: null, options.Labels, labelsRequired);
        return ToBytes(network.Model, options with
        {
            Architecture = null,
            StageDepths = null,
            Labels = network.Labels,
            Mean = options.Mean ?? network.Normalization?.Mean,
            Std = options.Std ?? network.Normalization?.Std,
        });
    }

    private static IReadOnlyList<string> Validate(ResNetModel model, OnnxExportOptions options, int classes)
    {
        if (options.Architecture is { } architecture && architecture != model.Spec.Architecture)
        {
            throw new ArgumentException($"The network is a {model.Spec.Architecture}, not the {architecture} the options name; leave Architecture null.", nameof(options.Architecture));
        }

        if (options.StageDepths is { } depths && !depths.SequenceEqual(model.Spec.BlocksPerStage))
        {
            throw new ArgumentException(
                $"The network has stage depths {string.Join('/', model.Spec.BlocksPerStage)}, not the {string.Join('/', depths)} the options name; leave StageDepths null.",
                nameof(options.StageDepths));
        }

        CheckChannels(options.Mean ?? Defaults.ImageNetMean, nameof(options.Mean), positive: false);
        CheckChannels(options.Std ?? Defaults.ImageNetStd, nameof(options.Std), positive: true);
        CheckSide(options.InputHeight, nameof(options.InputHeight));
        CheckSide(options.InputWidth, nameof(options.InputWidth));
        const int fixedSize = ResNetSpec.FixedPoolInputSize;
        if (model.Spec.Variant == ResNetVariant.ProjectionShortcuts && (options.InputHeight != fixedSize || options.InputWidth != fixedSize))
        {
            throw new ArgumentException(
                $"The {ResNetVariant.ProjectionShortcuts} variant pools with a fixed 7x7 window and needs a {fixedSize}x{fixedSize} input; "
                + $"got {options.InputHeight}x{options.InputWidth} (height x width).",
                nameof(options));
        }

        if (options.Labels is null)
        {
            return Enumerable.Range(0, classes).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        }

        if (options.Labels.Count != classes)
        {
            throw new ArgumentException(
                $"Got {options.Labels.Count} labels but the model has {classes} classes; give one label per class, in logit order.",
                nameof(options.Labels));
        }

        if (options.Labels.Any(label => label is null))
        {
            throw new ArgumentException("Labels must not contain null.", nameof(options.Labels));
        }

        return options.Labels;
    }

    private static void CheckChannels(float[]? values, string name, bool positive)
    {
        if (values is null || values.Length != 3)
        {
            throw new ArgumentException($"{name} needs one value per RGB channel (3); got {values?.Length.ToString() ?? "null"}.", name);
        }

        if (values.Any(v => !float.IsFinite(v) || (positive && v <= 0)))
        {
            throw new ArgumentException(
                $"{name} values must be finite{(positive ? " and positive" : string.Empty)}; got [{string.Join(", ", values)}].", name);
        }
    }

    private static void CheckSide(int value, string name)
    {
        if (value < Defaults.MinimumInputSize)
        {
            throw new ArgumentOutOfRangeException(name, value, $"The input must be at least {Defaults.MinimumInputSize} pixels on each side.");
        }
    }

    private static void AddMetadata(ModelProto proto, string key, string value) =>
        proto.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
}
