using Microsoft.ML.ResNet.Catalog;
using Microsoft.ML.ResNet.Modeling;

namespace Microsoft.ML.ResNet;

/// <summary>
/// Options of <see cref="ResNetCatalog.ResNetClassify(TransformsCatalog, ResNetClassifierOptions)"/>:
/// which network to load, which columns to read and write, and how to run ONNX Runtime.
/// </summary>
/// <example>See samples/apps/from-pytorch-weights.cs for a pipeline that uses these options.</example>
public sealed class ResNetClassifierOptions
{
    /// <summary>
    /// The network: an ONNX file exported by this library (labels, input size and architecture come from
    /// its metadata), or a weights file: <c>.safetensors</c> written by <see cref="ResNetClassifierTransformer.SaveWeights(string)"/>
    /// (labels and network in its metadata), other <c>.safetensors</c> or PyTorch <c>.pth</c> (these need <see cref="Labels"/>).
    /// </summary>
    public string ModelPath { get; set; } = string.Empty;

    /// <summary>
    /// The architecture the weights belong to. For an ONNX file, null accepts what its metadata says and a
    /// value must match it.
    /// </summary>
    public ResNetArchitecture? Architecture { get; set; }

    /// <summary>
    /// The wiring: <see cref="ResNetVariant.TorchVision"/> (torchvision's) or <see cref="ResNetVariant.ProjectionShortcuts"/>
    /// (the seed project's: a projection shortcut on the first block of every stage, a fixed 7x7 pool, 224x224 inputs only).
    /// Null (the default) takes what the file says: ONNX metadata, safetensors metadata we wrote, a state dict
    /// with the seed's keys; for other PyTorch files, what their keys show (torchvision's unless layer1's first block has a
    /// projection). A value must match what the file records.
    /// </summary>
    public ResNetVariant? Variant { get; set; }

    /// <summary>
    /// Blocks in each of the four stages when the weights file's network differs from <see cref="Architecture"/>'s own
    /// (e.g. [2, 2, 2, 3]). Needed only for PyTorch and safetensors files of such a network: ONNX files and safetensors written by SaveWeights
    /// record their depths (a value given must then match). Four entries, each 1 or more. Default null.
    /// </summary>
    public int[]? StageDepths { get; set; }

    /// <summary>Class labels in output order. Required for PyTorch weights and safetensors we did not write; for ONNX and
    /// safetensors written by SaveWeights they replace the stored labels (same count).</summary>
    public IReadOnlyList<string>? Labels { get; set; }

    /// <summary>The pixel vector column: Vector&lt;Single, 3*H*W&gt;, CHW planes scaled to 0..1, as
    /// <c>ExtractPixels(scaleImage: 1f / 255)</c> makes it. Default "Features", the column ML.NET trainers read
    /// (<see cref="ResNetTrainerOptions.FeatureColumnName"/> has the same name and default).</summary>
    public string FeatureColumnName { get; set; } = Defaults.FeatureColumnName;

    /// <summary>The output probabilities: Vector&lt;Single, K&gt; with the labels as slot names.</summary>
    public string ScoreColumnName { get; set; } = Defaults.ScoreColumnName;

    /// <summary>The most probable class: Key&lt;UInt32, K&gt; whose key values are the labels.</summary>
    public string PredictedLabelColumnName { get; set; } = Defaults.PredictedLabelColumnName;

    /// <summary>When set (e.g. to "Embedding"), the pooled embedding (Vector&lt;Single, F&gt;) is written to this column,
    /// to feed other ML.NET trainers. Default null: left out. Needs an ONNX model exported with its features output
    /// (weights files and models from the trainer always have it).</summary>
    public string? EmbeddingColumnName { get; set; }

    /// <summary>When set, each row's class activation map (Zhou et al., CVPR 2016) is written to this column:
    /// Vector&lt;Single, h, w&gt;, the last stage's spatial size (7x7 for 224x224 inputs), row-major. It is the fc weights of
    /// one class applied to the last stage's feature map: its mean plus that class's bias is the class's logit, so high
    /// values mark where the evidence for the class lies. Render it over the image with <see cref="HeatMapImage"/>. Works
    /// for every model (ONNX, weights, zip): the maps are grafted onto the graph. Saved in a model zip with
    /// <see cref="HeatMapClass"/>: <see cref="ResNetClassifierTransformer.Load"/> gives the column back, and so does a stock
    /// <c>mlContext.Model.Load</c> without this library (its chain computes the same map, Vector&lt;Single, h, w&gt;).</summary>
    public string? HeatMapColumnName { get; set; }

    /// <summary>The label whose map <see cref="HeatMapColumnName"/> holds; null (the default) for each row's predicted label.</summary>
    public string? HeatMapClass { get; set; }

    /// <summary>Rows per ONNX Runtime run (1 to 1024). Larger batches are faster per image and use more memory.</summary>
    public int BatchSize { get; set; } = Defaults.BatchSize;

    /// <summary>Input height: what weights are exported for (null: 224); for an ONNX file, null takes the
    /// model's and a value must match it.</summary>
    public int? ImageHeight { get; set; }

    /// <summary>Input width: what weights are exported for (null: 224); for an ONNX file, null takes the
    /// model's and a value must match it.</summary>
    public int? ImageWidth { get; set; }

    /// <summary>CUDA device to score on; null uses <c>MLContext.GpuDeviceId</c> (null there means the CPU).</summary>
    public int? GpuDeviceId { get; set; }

    /// <summary>With <see cref="GpuDeviceId"/>, when the GPU cannot be used: true scores on the CPU and logs one warning, false throws.
    /// Null uses <c>MLContext.FallbackToCpu</c>; without a device the context's device and fallback apply (ML.NET's rule).</summary>
    public bool? FallbackToCpu { get; set; }

    /// <summary>ONNX Runtime's intra-op threads; null lets it use one per core.</summary>
    public int? IntraOpNumThreads { get; set; }

    /// <summary>
    /// Refuse every row whose pixels are all 0 (false by default: a genuinely black image scores, as it trains).
    /// LoadImages turns an empty image path into an all-black image without any error; <c>ResNet34ClassifyImages</c>
    /// catches that case from the image column, but a raw-pixel pipeline cannot tell the two apart: drop rows
    /// with empty paths before LoadImages, or set this to true to refuse all-zero rows with an error naming the row.
    /// </summary>
    public bool RejectAllZeroPixels { get; set; } = Defaults.RejectAllZeroPixels;

    /// <summary>The MLImage column the pixels came from (ResNet34ClassifyImages sets it), checked for missing images.</summary>
    internal string? ImageColumnName { get; set; }

    internal ResNetClassifierOptions Clone()
    {
        var copy = (ResNetClassifierOptions)MemberwiseClone();
        copy.StageDepths = StageDepths is null ? null : [.. StageDepths];
        return copy;
    }

    /// <summary>Checks every value a caller can get wrong, naming the property.</summary>
    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(ModelPath, nameof(ModelPath));
        ArgumentException.ThrowIfNullOrWhiteSpace(FeatureColumnName, nameof(FeatureColumnName));
        ArgumentException.ThrowIfNullOrWhiteSpace(ScoreColumnName, nameof(ScoreColumnName));
        ArgumentException.ThrowIfNullOrWhiteSpace(PredictedLabelColumnName, nameof(PredictedLabelColumnName));
        if (EmbeddingColumnName is not null)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(EmbeddingColumnName, nameof(EmbeddingColumnName));
        }

        if (HeatMapColumnName is not null)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(HeatMapColumnName, nameof(HeatMapColumnName));
        }
        else if (HeatMapClass is not null)
        {
            throw new ArgumentException($"HeatMapClass '{HeatMapClass}' is set but HeatMapColumnName is not: name the column the maps go to.", nameof(HeatMapClass));
        }

        var outputs = new[] { ScoreColumnName, PredictedLabelColumnName, EmbeddingColumnName, HeatMapColumnName }.Where(n => n is not null).ToArray();
        if (outputs.Distinct(StringComparer.Ordinal).Count() != outputs.Length)
        {
            throw new ArgumentException($"Output column names must differ; got {string.Join(", ", outputs)}.", nameof(ScoreColumnName));
        }

        if (BatchSize < 1 || BatchSize > Defaults.MaxBatchSize)
        {
            throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, $"Expected 1 to {Defaults.MaxBatchSize} rows per run.");
        }

        if (ImageHeight < Defaults.MinimumInputSize)
        {
            throw new ArgumentOutOfRangeException(nameof(ImageHeight), ImageHeight, $"A ResNet needs images of at least {Defaults.MinimumInputSize}x{Defaults.MinimumInputSize}.");
        }

        if (ImageWidth < Defaults.MinimumInputSize)
        {
            throw new ArgumentOutOfRangeException(nameof(ImageWidth), ImageWidth, $"A ResNet needs images of at least {Defaults.MinimumInputSize}x{Defaults.MinimumInputSize}.");
        }

        if (GpuDeviceId < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(GpuDeviceId), GpuDeviceId, "A CUDA device id is 0 or more; null means the CPU.");
        }

        if (IntraOpNumThreads < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(IntraOpNumThreads), IntraOpNumThreads, "Expected at least one thread, or null for ONNX Runtime's default.");
        }

        if (Architecture is { } architecture && !Enum.IsDefined(architecture))
        {
            throw new ArgumentOutOfRangeException(nameof(Architecture), architecture, $"Expected one of {string.Join(", ", Enum.GetNames<ResNetArchitecture>())}.");
        }

        if (Variant is { } variant && !Enum.IsDefined(variant))
        {
            throw new ArgumentOutOfRangeException(nameof(Variant), variant, $"Expected one of {string.Join(", ", Enum.GetNames<ResNetVariant>())}, or null for the file's.");
        }

        ResNetSpec.ValidateDepths(StageDepths, nameof(StageDepths));
        if (Labels is not null && Labels.Any(string.IsNullOrEmpty))
        {
            throw new ArgumentException("Labels must not be null or empty strings.", nameof(Labels));
        }
    }
}
