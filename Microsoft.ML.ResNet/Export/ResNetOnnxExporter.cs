using System.Reflection;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.ML.ResNet.Export.Emitters;
using Microsoft.ML.ResNet.Modeling;
using Onnx;

namespace Microsoft.ML.ResNet.Export;

/// <summary>
/// Turns a <see cref="ResNetModel"/> into an ONNX model (opset <see cref="OnnxContract.Opset"/>):
/// normalization first, BatchNorm folded into the convolutions, logits + softmax (+ features) out,
/// labels and preprocessing in the metadata. TorchSharp has no ONNX export, so this walks the module tree.
/// </summary>
internal static class ResNetOnnxExporter
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
    public static ModelProto ToModelProto(ResNetModel model, OnnxExportOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        var classes = (int)model.fc.out_features;
        var featureSize = (int)model.fc.in_features;
        var labels = Validate(model, options, classes);

        var graph = new OnnxGraphBuilder(
            model.Spec.Architecture.ToString().ToLowerInvariant(),
            [OnnxContract.PixelsInput, OnnxContract.LogitsOutput, OnnxContract.ProbabilitiesOutput, OnnxContract.FeaturesOutput]);
        graph.AddInput(OnnxContract.PixelsInput, null, 3, options.InputHeight, options.InputWidth);
        var mean = graph.AddInitializer("normalize.mean", options.Mean, 1, 3, 1, 1);
        var std = graph.AddInitializer("normalize.std", options.Std, 1, 3, 1, 1);
        var centred = graph.AddNode("Sub", "normalize.centred", [OnnxContract.PixelsInput, mean]);
        var normalized = graph.AddNode("Div", "normalize", [centred, std]);

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
        AddMetadata(proto, OnnxContract.Metadata.Mean, JsonSerializer.Serialize(options.Mean));
        AddMetadata(proto, OnnxContract.Metadata.Std, JsonSerializer.Serialize(options.Std));
        AddMetadata(proto, OnnxContract.Metadata.InputSize, JsonSerializer.Serialize(new[] { options.InputHeight, options.InputWidth }));
        if (options.IncludeFeatures)
        {
            AddMetadata(proto, OnnxContract.Metadata.FeatureSize, featureSize.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        return proto;
    }

    /// <summary>The serialized ONNX model; see <see cref="ToModelProto"/>.</summary>
    public static byte[] ToBytes(ResNetModel model, OnnxExportOptions options) => ToModelProto(model, options).ToByteArray();

    /// <summary>Writes the ONNX model to <paramref name="path"/> atomically: an existing file is replaced only
    /// by a complete new one, and a failure leaves it untouched with no temp file behind.</summary>
    /// <exception cref="ArgumentException">An empty path, or bad options (see <see cref="ToModelProto"/>).</exception>
    public static void Export(ResNetModel model, string path, OnnxExportOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var proto = ToModelProto(model, options);
        AtomicFile.Write(path, proto.WriteTo);
    }

    private static IReadOnlyList<string> Validate(ResNetModel model, OnnxExportOptions options, int classes)
    {
        CheckChannels(options.Mean, nameof(options.Mean), positive: false);
        CheckChannels(options.Std, nameof(options.Std), positive: true);
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
        if (value < OnnxExportOptions.Defaults.MinimumInputSize)
        {
            throw new ArgumentOutOfRangeException(name, value, $"The input must be at least {OnnxExportOptions.Defaults.MinimumInputSize} pixels on each side.");
        }
    }

    private static void AddMetadata(ModelProto proto, string key, string value) =>
        proto.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
}
