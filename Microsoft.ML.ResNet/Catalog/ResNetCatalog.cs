using Microsoft.ML.Data;
using Microsoft.ML.ResNet;
using Microsoft.ML.ResNet.Catalog;
using Microsoft.ML.ResNet.IO;
using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Scoring;

namespace Microsoft.ML;

/// <summary>ResNet classification verbs on <see cref="TransformsCatalog"/>.</summary>
public static class ResNetCatalog
{
    /// <summary>
    /// Classifies images with a ResNet-34 read from <paramref name="modelPath"/> (an ONNX file exported by this
    /// library, or weights: PyTorch <c>.pth</c>, <c>.safetensors</c>). Reads the pixel vector of
    /// ExtractPixels(scaleImage: 1f / 255) and writes <c>Score</c> (probabilities, labels as slot names) and
    /// <paramref name="outputColumnName"/> (the predicted label: a key whose key values are the labels).
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The predicted label column.</param>
    /// <param name="inputColumnName">The pixel column; null means "Features" (<see cref="ResNetClassifierOptions.FeatureColumnName"/>).</param>
    /// <param name="modelPath">ONNX or weights file.</param>
    /// <param name="labels">Class labels in output order; needed for PyTorch and safetensors weights.</param>
    /// <param name="gpuDeviceId">CUDA device; null uses <c>MLContext.GpuDeviceId</c> and <c>MLContext.FallbackToCpu</c>.</param>
    /// <param name="fallbackToCpu">With a <paramref name="gpuDeviceId"/>: score on the CPU (one warning) when the GPU cannot be used, instead of throwing.</param>
    /// <param name="batchSize">Rows per ONNX Runtime run.</param>
    /// <param name="imageHeight">Input height; null takes the ONNX model's (224 for weights).</param>
    /// <param name="imageWidth">Input width; null takes the ONNX model's (224 for weights).</param>
    /// <exception cref="ArgumentNullException"><paramref name="catalog"/> is null.</exception>
    /// <exception cref="ArgumentException">A column name or the model path is empty, or labels are empty strings.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Batch size outside 1..1024, image size below 32, negative device id.</exception>
    /// <remarks>The parameters come in <c>ApplyOnnxModel</c>'s order: output column, input column, model file.</remarks>
    /// <example>See samples/PackageConsumer/Program.cs (ResNet34Classify from a weights file) and the README's "Scoring in a pipeline".</example>
    public static ResNetClassifierEstimator ResNet34Classify(
        this TransformsCatalog catalog,
        string outputColumnName,
        string? inputColumnName,
        string modelPath,
        IReadOnlyList<string>? labels = null,
        int? gpuDeviceId = null,
        bool fallbackToCpu = false,
        int batchSize = Defaults.BatchSize,
        int? imageHeight = null,
        int? imageWidth = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return ResNetClassify(catalog, ResNet34Options(outputColumnName, inputColumnName, modelPath, labels, gpuDeviceId, fallbackToCpu, batchSize, imageHeight, imageWidth));
    }

    /// <summary>The options of the simple ResNet-34 overloads, in one place.</summary>
    private static ResNetClassifierOptions ResNet34Options(
        string outputColumnName,
        string? inputColumnName,
        string modelPath,
        IReadOnlyList<string>? labels,
        int? gpuDeviceId,
        bool fallbackToCpu,
        int batchSize,
        int? imageHeight,
        int? imageWidth) => new()
        {
            ModelPath = modelPath,
            Architecture = ResNetArchitecture.ResNet34,
            PredictedLabelColumnName = outputColumnName,
            FeatureColumnName = inputColumnName ?? Defaults.FeatureColumnName,
            Labels = labels,
            GpuDeviceId = gpuDeviceId,
            FallbackToCpu = fallbackToCpu,   // HostSettings.Place reads it only with a device, as ML.NET does
            BatchSize = batchSize,
            ImageHeight = imageHeight,
            ImageWidth = imageWidth,
        };

    /// <summary>
    /// Classifies images with a ResNet-34, all settings in <paramref name="options"/>; a null
    /// <see cref="ResNetClassifierOptions.Architecture"/> becomes ResNet-34. Another architecture is refused, as
    /// <c>Trainers.ResNet34(options)</c> refuses it: other ResNets score through <see cref="ResNetClassify"/>.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="options">Model, columns, batching and device.</param>
    /// <exception cref="ArgumentNullException"><paramref name="catalog"/> or <paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is invalid, or <see cref="ResNetClassifierOptions.Architecture"/> names
    /// another ResNet; <see cref="ArgumentException.ParamName"/> names the option.</exception>
    /// <example>See samples/apps/from-pytorch-weights.cs (the options overload, there through ResNetClassify).</example>
    public static ResNetClassifierEstimator ResNet34Classify(this TransformsCatalog catalog, ResNetClassifierOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Architecture is { } architecture && architecture != ResNetArchitecture.ResNet34)
        {
            throw new ArgumentException(
                $"Transforms.ResNet34Classify scores a ResNet-34, but options.Architecture is {architecture}: use Transforms.ResNetClassify(options) for it, or leave Architecture null or ResNet34.",
                nameof(options.Architecture));
        }

        var copy = options.Clone();
        copy.Architecture ??= ResNetArchitecture.ResNet34;
        return ResNetClassify(catalog, copy);
    }

    /// <summary>
    /// Classifies images with any ResNet (18/34/50/101/152): <see cref="ResNetClassifierOptions.Architecture"/>
    /// says which (required for weights; for ONNX, null accepts the model's).
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="options">Model, columns, batching and device.</param>
    /// <exception cref="ArgumentNullException"><paramref name="catalog"/> or <paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is invalid; <see cref="ArgumentException.ParamName"/> names it.</exception>
    /// <example>See samples/apps/from-pytorch-weights.cs (PyTorch weights scored in a pipeline).</example>
    public static ResNetClassifierEstimator ResNetClassify(this TransformsCatalog catalog, ResNetClassifierOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return new ResNetClassifierEstimator(HostSettings.From(catalog), options);
    }

    /// <summary>
    /// Classifies an image column (MLImage, e.g. from LoadImages) directly: resizes it to the model's input
    /// size, extracts pixels scaled to 0..1 into <c>&lt;imageColumnName&gt;Pixels</c>, then scores as
    /// <see cref="ResNet34Classify(TransformsCatalog, ResNetClassifierOptions)"/> does. A row without an image
    /// (LoadImages' result for an empty path) fails scoring with an error naming the row; a genuinely black
    /// image scores.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The predicted label column.</param>
    /// <param name="imageColumnName">The MLImage column; null means "Image".</param>
    /// <param name="modelPath">ONNX or weights file.</param>
    /// <param name="labels">Class labels in output order; needed for PyTorch and safetensors weights.</param>
    /// <param name="gpuDeviceId">CUDA device; null uses the MLContext's settings.</param>
    /// <param name="fallbackToCpu">With a <paramref name="gpuDeviceId"/>: score on the CPU when the GPU cannot be used.</param>
    /// <param name="batchSize">Rows per ONNX Runtime run.</param>
    /// <exception cref="ArgumentNullException"><paramref name="catalog"/> is null.</exception>
    /// <exception cref="ArgumentException">A column name or the model path is empty.</exception>
    /// <example>See the README's "Scoring in a pipeline": this verb stands for its ResizeImages, ExtractPixels and ResNet34Classify steps.</example>
    public static EstimatorChain<ResNetClassifierTransformer> ResNet34ClassifyImages(
        this TransformsCatalog catalog,
        string outputColumnName,
        string? imageColumnName,
        string modelPath,
        IReadOnlyList<string>? labels = null,
        int? gpuDeviceId = null,
        bool fallbackToCpu = false,
        int batchSize = Defaults.BatchSize)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var image = imageColumnName ?? Defaults.ImageColumnName;
        ArgumentException.ThrowIfNullOrWhiteSpace(image, nameof(imageColumnName));
        var resized = image + "Resized";
        var pixels = image + "Pixels";
        var options = ResNet34Options(outputColumnName, pixels, modelPath, labels, gpuDeviceId, fallbackToCpu, batchSize, imageHeight: null, imageWidth: null);
        options.ImageColumnName = image;
        var classifier = ResNetClassify(catalog, options);
        var info = classifier.Model.Info;
        return catalog.ResizeImages(resized, info.Width, info.Height, image)
            .Append(catalog.ExtractPixels(pixels, resized, scaleImage: Defaults.PixelScale))
            .Append(classifier);
    }

    /// <summary>
    /// <c>mlContext.Model.Save</c>, atomically: the zip is written to a temp file beside <paramref name="filePath"/>
    /// and renamed over it, so a reader (or a crash) never sees a partial model and a failed save leaves the old
    /// file intact. The zip's ONNX entries are stored uncompressed (the other entries as ML.NET deflates them): a stock
    /// <c>Model.Load</c> then copies the network's bytes instead of inflating them, its largest cost. The zip stays a zip
    /// any ML.NET application loads.
    /// </summary>
    /// <param name="catalog">The model operations catalog.</param>
    /// <param name="model">The model to save (any ML.NET transformer, e.g. a pipeline ending in ResNetClassify).</param>
    /// <param name="inputSchema">The schema the model reads, saved with it.</param>
    /// <param name="filePath">Where the zip goes.</param>
    /// <exception cref="ArgumentNullException">A null argument.</exception>
    /// <exception cref="ArgumentException"><paramref name="filePath"/> is empty.</exception>
    /// <example>See samples/ImageClassification/Commands/TrainCommand.cs.</example>
    public static void SaveAtomically(this ModelOperationsCatalog catalog, ITransformer model, DataViewSchema inputSchema, string filePath)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputSchema);
        ArgumentException.ThrowIfNullOrWhiteSpace(filePath);
        AtomicFile.Write(filePath, stream =>
        {
            // Our classifiers hand ML.NET a stub instead of the network, so ML.NET does not deflate the weights; the
            // rewrite below puts the network back, stored.
            using var deferred = DeferredNetworks.Begin();
            using var written = new MemoryStream();
            catalog.Save(model, inputSchema, written);
            written.Position = 0;
            ModelZipCompaction.StoreOnnxUncompressed(written, stream, deferred);
        });
    }
}
