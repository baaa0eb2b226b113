using Microsoft.ML.Data;
using Microsoft.ML.ResNet.Catalog;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.IO;
using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Scoring;

namespace Microsoft.ML.ResNet;

/// <summary>
/// Scores a pixel column with a ResNet classifier through ONNX Runtime, <see cref="BatchSize"/> rows per
/// run. <see cref="Transform"/> is lazy; PredictionEngine works row by row; one instance serves many
/// threads (give each its own PredictionEngine). Saving writes ML.NET's own transformers only, so the
/// zip loads with <c>mlContext.Model.Load</c> anywhere; <see cref="Load"/> reopens it as this batched
/// transformer. <see cref="SaveOnnx(string)"/> writes the network as a standalone ONNX file for any runtime.
/// Owns the native session: dispose it.
/// </summary>
/// <remarks>
/// ML.NET's PredictionEngine disposes the transformer it was created from when it is itself disposed
/// (its default <c>OwnsTransformer = true</c>). Engines that share one transformer, as a pool's do, must be
/// created with <c>new PredictionEngineOptions { OwnsTransformer = false }</c>.
/// Rows are not scored silently when they are bad: NaN or infinite pixels, and NaN or infinite scores (a model
/// with NaN weights), are rejected with an error naming the row; the stock chain written by Save does not check
/// them. A genuinely black image (all pixels 0) scores by default. An empty image path is caught where the
/// image is visible (<c>ResNet34ClassifyImages</c>); a raw-pixel pipeline (LoadImages, ResizeImages,
/// ExtractPixels, then <c>ResNet34Classify</c>) should drop rows with empty paths before LoadImages (e.g.
/// <c>mlContext.Data.FilterByCustomPredicate</c>), because LoadImages turns them into black images silently,
/// or set <see cref="ResNetClassifierOptions.RejectAllZeroPixels"/> to refuse every all-zero row.
/// Disposing is safe while cursors or PredictionEngine rows made from this transformer are still in use (they
/// keep the session alive until they are disposed); new cursors, rows and views after it throw
/// <see cref="ObjectDisposedException"/>.
/// The stock chain's Score has no slot names (the labels are PredictedLabel's key values there).
/// </remarks>
/// <example>See samples/apps/use-saved-model.cs (a saved pipeline reopened as the batched scorer) and samples/apps/from-pytorch-weights.cs.</example>
public sealed class ResNetClassifierTransformer : ITransformer, IDisposable
{
    private readonly ResNetScorer _scorer;
    private readonly byte[] _onnx;
    private readonly NetworkWeights? _weights;
    private bool _disposed;

    private ResNetClassifierTransformer(ResNetScorer scorer, byte[] onnx, NetworkWeights? weights)
    {
        _scorer = scorer;
        _onnx = onnx;
        _weights = weights;
    }

    /// <summary>Class labels in score order; also the key values of the predicted label.</summary>
    public IReadOnlyList<string> Labels => _scorer.Labels;

    /// <summary>The pixel column read (<see cref="ResNetClassifierOptions.FeatureColumnName"/>).</summary>
    public string FeatureColumnName => _scorer.Columns.Input;

    /// <summary>The probabilities column written.</summary>
    public string ScoreColumnName => _scorer.Columns.Score;

    /// <summary>The predicted label column written.</summary>
    public string PredictedLabelColumnName => _scorer.Columns.PredictedLabel;

    /// <summary>The embedding column written (<see cref="ResNetClassifierOptions.EmbeddingColumnName"/>), or null.</summary>
    public string? EmbeddingColumnName => _scorer.Columns.Features;

    /// <summary>The heat-map column written (<see cref="ResNetClassifierOptions.HeatMapColumnName"/>), or null. Saved in the
    /// model zip with <see cref="HeatMapClass"/>.</summary>
    public string? HeatMapColumnName => _scorer.Columns.HeatMap;

    /// <summary>The label whose map <see cref="HeatMapColumnName"/> holds (<see cref="ResNetClassifierOptions.HeatMapClass"/>);
    /// null for each row's predicted label.</summary>
    public string? HeatMapClass => _scorer.Columns.HeatMapClass;

    /// <summary>Rows per ONNX Runtime run.</summary>
    public int BatchSize => _scorer.BatchSize;

    /// <summary>Input image height the network reads.</summary>
    public int ImageHeight => _scorer.Info.Height;

    /// <summary>Input image width the network reads.</summary>
    public int ImageWidth => _scorer.Info.Width;

    /// <summary>True when this transformer holds its network's weights (trained, or built from a weights file), so
    /// <see cref="SaveWeights(string)"/> can write them; false when it was built from an ONNX file or a model zip.</summary>
    public bool HasWeights => _weights is not null;

    /// <summary>How the network was quantized (its <c>resnet.quantization</c> metadata, e.g.
    /// "int8-qdq;calibration=minmax;rows=200"), or null for an FP32 network.</summary>
    public string? Quantization => _scorer.Info.Metadata.TryGetValue(OnnxContract.Metadata.Quantization, out var value) ? value : null;

    /// <summary>Where the session runs: "CPU" or "CUDA:n".</summary>
    public string Device => _scorer.Session.Device;

    /// <summary>The scoring core (tests look at its session's references).</summary>
    internal ResNetScorer Scorer => _scorer;

    /// <summary>The ONNX bytes its session runs, for another session on another device (ResNetBatchPredictor).</summary>
    internal byte[] ScoringOnnx => _onnx;

    /// <summary>Always true: rows can be scored one at a time (PredictionEngine).</summary>
    public bool IsRowToRowMapper => true;

    /// <summary>
    /// Reopens a zip written by <c>mlContext.Model.Save</c> with our transformer in it. When the whole
    /// model is one classifier this returns a <see cref="ResNetClassifierTransformer"/>; when the classifier
    /// is a step of a larger chain (e.g. after LoadImages, ResizeImages, ExtractPixels) it returns that chain
    /// with the classifier's step replaced by the batched transformer. It writes the columns the saved one wrote, under the
    /// same names (the embedding and the heat map with its class included); zips saved before heat-map columns were
    /// saved reopen without one.
    /// </summary>
    /// <param name="mlContext">Gives the GPU defaults and the log.</param>
    /// <param name="path">The model zip.</param>
    /// <param name="gpuDeviceId">CUDA device; null uses <c>mlContext.GpuDeviceId</c>.</param>
    /// <param name="fallbackToCpu">Score on the CPU when the GPU cannot be used; null uses <c>mlContext.FallbackToCpu</c>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="mlContext"/> or <paramref name="path"/> is null.</exception>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">The zip holds no classifier saved by this library.</exception>
    public static ITransformer Load(MLContext mlContext, string path, int? gpuDeviceId = null, bool? fallbackToCpu = null)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentNullException.ThrowIfNull(path);
        var host = HostSettings.From(mlContext);
        var entries = SavedModelReader.Read(path);
        if (entries.Count == 0)
        {
            throw new InvalidDataException($"'{path}' holds no ResNet classifier saved by this library (no ONNX model with '{SavedScoringSettings.MetadataKey}' metadata).");
        }

        // A saved model is loaded to serve, in process after process: its CPU sessions come from ONNX Runtime's
        // optimized graph the first load kept (OptimizedModelCache), in a tenth of the time.
        var session = host.Resolve(gpuDeviceId, fallbackToCpu, intraOpNumThreads: null) with { CacheOptimizedGraph = true };
        if (entries is [{ Path: [] } only])
        {
            return FromSaved(host, session, only);
        }

        // The rest of the pipeline comes from ML.NET's own loader. It would inflate, stage and optimize each saved
        // network once more only to have its step replaced: it reads a copy of the zip with stubs in their place.
        // A stub needs only its graph's declared input and outputs, so ML.NET loads the chain on this thread while
        // another makes the scoring sessions (ONNX Runtime loading and optimizing the networks, the larger part):
        // on two cores or more, the shorter of the two hides behind the longer.
        OnnxScoringSession.EnsureEnvironment(session);
        var (chain, classifiers) = LoadChainBeside(() => FromSaved(host, session, entries), mlContext, path, entries);
        return PutInPlace(chain, entries, classifiers);
    }

    /// <summary>The input schema plus the output columns.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The pixel column is missing (the message lists the columns) or is not Vector&lt;Single, 3*H*W&gt;.</exception>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _scorer.OutputSchema(inputSchema);
    }

    /// <summary>A row mapper for PredictionEngine; each row it makes scores one row per run.</summary>
    /// <exception cref="ObjectDisposedException">This transformer was disposed.</exception>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _scorer.Mapper(inputSchema);
    }

    /// <summary>
    /// A lazy view of <paramref name="input"/> with the output columns; its cursors score <see cref="BatchSize"/>
    /// rows per run. A row that cannot be read, holds NaN or infinite pixels or scores, is all zeros while
    /// <see cref="ResNetClassifierOptions.RejectAllZeroPixels"/> is on, or has no image (an empty path, with
    /// <c>ResNet34ClassifyImages</c>) makes the cursor throw an <see cref="InvalidOperationException"/> naming the row
    /// and its text columns; the cursor then stays failed (a further MoveNext throws the same error).
    /// </summary>
    /// <exception cref="ObjectDisposedException">This transformer was disposed.</exception>
    public IDataView Transform(IDataView input)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _scorer.Transform(input);
    }

    /// <summary>
    /// Saves <paramref name="inputSchema"/> and this transformer to <paramref name="path"/> atomically: a reader
    /// sees the old file or the new one, never a partial zip.
    /// </summary>
    public void Save(string path, DataViewSchema inputSchema)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(inputSchema);
        new MLContext().Model.SaveAtomically(this, inputSchema, path);
    }

    /// <summary>
    /// Writes the classifier's network to <paramref name="path"/> as a standalone ONNX file for ONNX Runtime (or any ONNX
    /// runtime) in any language: input <c>pixels</c> float [N, 3, H, W], RGB planes in 0..1 (ML.NET's <c>ExtractPixels</c>
    /// with <c>scaleImage: 1f / 255</c>; the per-channel normalization is the graph's first nodes); outputs <c>logits</c>
    /// and <c>probabilities</c> [N, K] and <c>features</c> [N, F] (the pooled embedding) when the network has them; opset 17.
    /// Its metadata_props hold <c>resnet.labels</c> (this transformer's <see cref="Labels"/>, in output order),
    /// <c>resnet.mean</c>, <c>resnet.std</c>, <c>resnet.input_size</c> ([height, width]), <c>resnet.architecture</c>,
    /// <c>resnet.variant</c> and <c>resnet.stage_depths</c>; its producer_name is <c>ResNetMl</c>.
    /// </summary>
    /// <remarks>
    /// Networks from the trainer, from weights files and from model zips are written with every output above; a
    /// transformer opened from an ONNX file writes that file's network with its input named <c>pixels</c> and only the
    /// outputs above that it has.
    /// The write is atomic: the file appears complete or not at all, and a failure leaves an existing file as it was
    /// with no temp file behind. The folder must exist.
    /// </remarks>
    /// <param name="path">The .onnx file to write; an existing file is replaced.</param>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty or white space.</exception>
    /// <exception cref="ObjectDisposedException">This transformer was disposed (the message names <paramref name="path"/>).</exception>
    /// <exception cref="DirectoryNotFoundException">The folder of <paramref name="path"/> does not exist.</exception>
    /// <exception cref="UnauthorizedAccessException"><paramref name="path"/> is a read-only file; it is left as it is.</exception>
    /// <exception cref="IOException"><paramref name="path"/> is a folder, a file stands where one of its folders should be,
    /// or the write failed (e.g. a full disk); the message names the path.</exception>
    /// <exception cref="InvalidOperationException">The network came from another exporter's ONNX file whose graph already uses
    /// the name <c>pixels</c> for an inner tensor, so its input cannot take it.</exception>
    /// <example>See samples/ImageClassification/Commands/ExportCommand.cs.</example>
    public void SaveOnnx(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ThrowIfDisposed($"'{Path.GetFullPath(path)}'");
        var onnx = ContractOnnx();
        AtomicFile.Write(path, stream => stream.Write(onnx), createFolder: false);
    }

    /// <summary>
    /// Writes the classifier's network to <paramref name="path"/> as an INT8 ONNX model, calibrated on the first rows of
    /// <paramref name="calibrationData"/> (post-training static quantization): weights symmetric INT8 per output channel,
    /// activations UINT8 per tensor, in the QDQ form ONNX Runtime runs with integer kernels (AVX-512 VNNI where the CPU has
    /// it; elsewhere it still runs, possibly no faster than FP32). The input normalization, the softmax and the logits stay
    /// FP32; inputs, outputs and metadata are those of <see cref="SaveOnnx(string)"/>, plus <c>resnet.quantization</c>
    /// (e.g. "int8-qdq;calibration=minmax;rows=200"). <c>ResNet34Classify</c> scores the file like any other.
    /// </summary>
    /// <remarks>Calibrate on images like those the model will score, prepared as for scoring (the same size and
    /// ExtractPixels). The write is atomic, as for <see cref="SaveOnnx(string)"/>.</remarks>
    /// <param name="path">The .onnx file to write; an existing file is replaced.</param>
    /// <param name="calibrationData">Rows with this transformer's pixel column (<see cref="FeatureColumnName"/>).</param>
    /// <param name="options">Rows to calibrate on (200 by default) and the calibration method; null for the defaults.</param>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> or <paramref name="calibrationData"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The pixel column is missing from <paramref name="calibrationData"/> or is not
    /// Vector&lt;Single, 3*H*W&gt;; an option is out of range.</exception>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty; <paramref name="calibrationData"/> has fewer than 20
    /// rows or a row with NaN or infinite pixels.</exception>
    /// <exception cref="InvalidOperationException">The network is already quantized; an activation is NaN, infinite or the
    /// same value on every calibration image (the message names it).</exception>
    /// <exception cref="ObjectDisposedException">This transformer was disposed.</exception>
    /// <exception cref="DirectoryNotFoundException">The folder of <paramref name="path"/> does not exist.</exception>
    /// <exception cref="IOException">The write failed; the message names the path.</exception>
    /// <example>See samples/ImageClassification/Commands/ExportCommand.cs.</example>
    public void SaveOnnx(string path, IDataView calibrationData, OnnxQuantizationOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(calibrationData);
        ThrowIfDisposed($"'{Path.GetFullPath(path)}'");
        var onnx = OnnxQuantizer.Quantize(
            ContractOnnx(), calibrationData, FeatureColumnName, ImageHeight, ImageWidth, options ?? new OnnxQuantizationOptions(), nameof(calibrationData));
        AtomicFile.Write(path, stream => stream.Write(onnx), createFolder: false);
    }

    /// <summary>
    /// Writes the classifier's network to <paramref name="stream"/> as ONNX: the same bytes as <see cref="SaveOnnx(string)"/>.
    /// </summary>
    /// <remarks>
    /// The caller owns the stream: it is written from its current position and not closed. The model is built in
    /// memory first, so a failure before writing leaves the stream untouched. When the write itself fails, a seekable
    /// stream that was positioned at its end is cut back to its former length; any other stream may hold part of the model.
    /// </remarks>
    /// <param name="stream">A writable stream.</param>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="stream"/> cannot be written.</exception>
    /// <exception cref="ObjectDisposedException">This transformer was disposed.</exception>
    /// <exception cref="IOException">The stream failed; the original exception, unchanged.</exception>
    /// <exception cref="InvalidOperationException">The network came from another exporter's ONNX file whose graph already uses
    /// the name <c>pixels</c> for an inner tensor, so its input cannot take it.</exception>
    public void SaveOnnx(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanWrite)
        {
            throw new ArgumentException($"The stream ({stream.GetType().Name}) cannot be written: give a writable stream.", nameof(stream));
        }

        ThrowIfDisposed("a stream");
        var onnx = ContractOnnx();

        // Only an append can be undone: bytes overwritten in the middle of a stream are gone.
        var start = stream.CanSeek && stream.Position == stream.Length ? stream.Position : -1;
        try
        {
            stream.Write(onnx);
            stream.Flush();
        }
        catch
        {
            if (start >= 0)
            {
                TryCutBack(stream, start);
            }

            throw;
        }
    }

    /// <summary>
    /// Writes this classifier as one model of a Triton Inference Server (KServe v2) model repository, so that Triton
    /// serves it with its own dynamic batching: <c>directory/modelName/config.pbtxt</c> (platform <c>onnxruntime_onnx</c>,
    /// <c>max_batch_size</c>, <c>dynamic_batching</c>, input <c>pixels</c> [3, H, W] and outputs <c>logits</c>,
    /// <c>probabilities</c> (with <c>label_filename</c>) and <c>features</c> with their dims), <c>directory/modelName/1/model.onnx</c>
    /// (the file <see cref="SaveOnnx(string)"/> writes) and <c>directory/modelName/labels.txt</c>.
    /// </summary>
    /// <remarks>The model folder appears complete or not at all (it is built beside its place, then renamed); other
    /// models in <paramref name="directory"/> are left alone. Triton's clients send pixels as this library's do: RGB planes
    /// in 0..1 (the normalization is in the graph).</remarks>
    /// <param name="directory">The repository folder (Triton's <c>--model-repository</c>); created when missing.</param>
    /// <param name="modelName">The model's folder and name: letters, digits, '_', '-', '.'.</param>
    /// <param name="maxBatchSize">Largest batch Triton forms (1 or more).</param>
    /// <param name="maxQueueDelayMicroseconds">How long Triton holds a request to fill a batch (0 or more).</param>
    /// <returns>The model folder's full path.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="directory"/> or <paramref name="modelName"/> is null.</exception>
    /// <exception cref="ArgumentException">An empty folder or a model name that is not a plain folder name; a label with a line break.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxBatchSize"/> below 1 or a negative delay.</exception>
    /// <exception cref="ObjectDisposedException">This transformer was disposed.</exception>
    /// <exception cref="IOException">The model folder exists and is not empty, or the write failed; the message names the folder.</exception>
    /// <example>See samples/ImageClassification/Commands/ExportCommand.cs (<c>export --triton DIR</c>) and the README's "Serve with Triton".</example>
    public string SaveTritonRepository(
        string directory,
        string modelName = Defaults.TritonModelName,
        int maxBatchSize = Defaults.TritonMaxBatchSize,
        int maxQueueDelayMicroseconds = Defaults.TritonMaxQueueDelayMicroseconds)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        ThrowIfDisposed($"a Triton repository in '{Path.GetFullPath(directory)}'");
        return TritonModelRepository.Write(ContractOnnx(), Labels, directory, modelName, maxBatchSize, maxQueueDelayMicroseconds);
    }

    /// <summary>
    /// Saves the network's weights to <paramref name="path"/>, in the format its extension names: <c>.pth</c> or <c>.pt</c>
    /// (a PyTorch state dict for <c>torch.load</c>), <c>.safetensors</c> (with labels, architecture, variant and input
    /// normalization in its metadata). Keys are those of the network's own PyTorch class: torchvision's, or the seed's for
    /// the <see cref="ResNetVariant.ProjectionShortcuts"/> variant. See <see cref="SaveWeights(string, ResNetWeightsFormat, ResNetWeightsLayout?)"/>.
    /// </summary>
    /// <param name="path">The file to write; its folder must exist.</param>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty or has another extension.</exception>
    /// <exception cref="DirectoryNotFoundException">The folder of <paramref name="path"/> does not exist.</exception>
    /// <exception cref="InvalidOperationException">This transformer holds no weights (<see cref="HasWeights"/> is false).</exception>
    /// <exception cref="IOException">Writing failed; the previous file, if any, is unchanged.</exception>
    /// <exception cref="ObjectDisposedException">This transformer was disposed.</exception>
    public void SaveWeights(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        SaveWeights(path, ResNetWeights.FormatOf(path, nameof(path)));
    }

    /// <summary>
    /// Saves the network's weights to <paramref name="path"/> atomically (a reader sees the old file or the complete new
    /// one) in <paramref name="format"/>, with the key names of <paramref name="layout"/>.
    /// </summary>
    /// <remarks>
    /// The weights are the unfolded ones (BatchNorm apart from the convolutions, with its running statistics), so the file
    /// continues training in PyTorch or through <see cref="ResNetTrainerOptions.PretrainedWeightsPath"/>, and scores through
    /// <c>ResNet34Classify</c>. A <c>.pth</c> holds tensors only: pass the labels (<see cref="Labels"/>) when scoring it;
    /// the input normalization is the one this network was trained with (ImageNet's unless the trainer's Mean/Std said
    /// otherwise). This transformer keeps a copy of the weights in memory for this (about 4 bytes per parameter: 87 MB for
    /// a 1000-class ResNet-34), only when built from weights or trained; one built from an ONNX file or reopened from a
    /// model zip holds the BatchNorm-folded graph only and cannot save weights.
    /// </remarks>
    /// <param name="path">The file to write; its folder must exist.</param>
    /// <param name="format">PyTorch <c>.pth</c> or safetensors, whatever the extension.</param>
    /// <param name="layout">torchvision's keys or the seed's; null = the network's own (the seed's for the
    /// <see cref="ResNetVariant.ProjectionShortcuts"/> variant, torchvision's otherwise).</param>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty; the seed's layout for a network that has none
    /// (only <see cref="ResNetVariant.ProjectionShortcuts"/> networks of basic blocks do).</exception>
    /// <exception cref="ArgumentOutOfRangeException">An undefined format or layout.</exception>
    /// <exception cref="DirectoryNotFoundException">The folder of <paramref name="path"/> does not exist.</exception>
    /// <exception cref="InvalidOperationException">This transformer holds no weights (<see cref="HasWeights"/> is false).</exception>
    /// <exception cref="IOException">Writing failed; the previous file, if any, is unchanged.</exception>
    /// <exception cref="ObjectDisposedException">This transformer was disposed.</exception>
    /// <example>See samples/PackageConsumer/Program.cs (trains, saves the weights, then scores from the file).</example>
    public void SaveWeights(string path, ResNetWeightsFormat format, ResNetWeightsLayout? layout = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ThrowIfDisposed($"'{Path.GetFullPath(path)}'");
        if (!Enum.IsDefined(format))
        {
            throw new ArgumentOutOfRangeException(nameof(format), format, $"Expected one of {string.Join(", ", Enum.GetNames<ResNetWeightsFormat>())}.");
        }

        if (layout is { } keys && !Enum.IsDefined(keys))
        {
            throw new ArgumentOutOfRangeException(nameof(layout), keys, $"Expected one of {string.Join(", ", Enum.GetNames<ResNetWeightsLayout>())}, or null.");
        }

        var weights = _weights ?? throw new InvalidOperationException(
            $"Cannot save weights to '{path}': this transformer was built from an ONNX file or a model zip, whose graph has BatchNorm folded into the convolutions. "
            + "Save weights from the transformer the trainer returned, or from one built with ResNet34Classify on a .pth/.safetensors file.");
        ResNetWeights.Write(weights, path, format, layout);
    }

    /// <summary>
    /// Gives up this transformer's hold on the ONNX Runtime session; the session is freed when the last cursor or
    /// PredictionEngine row still using it is disposed.
    /// </summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _scorer.Dispose();
        }
    }

    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);

        // ML.NET cannot load a third party's transformer, so what is saved is a chain of its own built-ins
        // that computes the same columns (see PortableModelWriter).
        var settings = SavedScoringSettings.Of(_scorer.Columns, BatchSize, _scorer.RejectAllZeroPixels);
        var saved = PortableModelWriter.RewriteGraph(_onnx, Labels, settings, EmbeddingColumnName is not null);

        // Inside SaveAtomically, ML.NET gets a stub and the network goes into the zip afterwards, stored (DeferredNetworks).
        if (DeferredNetworks.Current is { } deferred)
        {
            saved = PortableModelWriter.Stub(settings, _scorer.Info, Labels.Count, deferred.Add(saved));
        }

        // OnnxTransformer reads a file: it is staged in the user's private folder, so no one else can swap the
        // network between this write and the zip.
        var stream = PrivateTempFolder.CreateExclusive(PrivateTempFolder.GetSubfolder("save"), ".onnx", out var file);
        try
        {
            using (stream)
            {
                stream.Write(saved);
            }

            var chain = PortableModelWriter.BuildChain(new MLContext(), file, Labels, _scorer.Info.PixelCount, settings);
            try
            {
                ((ICanSaveModel)chain).Save(ctx);
            }
            finally
            {
                chain.Dispose();
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    private void ThrowIfDisposed(string target)
    {
        if (_disposed)
        {
            throw new ObjectDisposedException(nameof(ResNetClassifierTransformer), $"Cannot write {target}: this ResNetClassifierTransformer was disposed. Save or export before disposing it.");
        }
    }

    /// <summary>The network under the ONNX contract, without what saving a zip added (see <see cref="OnnxContractGraph"/>),
    /// the heat maps grafted for a heat-map column included: a transformer reopened from a zip exports what the one saved did.</summary>
    private byte[] ContractOnnx() => OnnxContractGraph.Restore(_onnx, Labels, [SavedScoringSettings.MetadataKey], [PortableModelWriter.HeatMapGraftNode]);

    /// <summary>The contract ONNX (as <see cref="SaveOnnx(string)"/> writes it) with the class activation maps added as
    /// <see cref="OnnxContract.HeatMapsOutput"/> [N, K, h, w] (see <see cref="HeatMapGraph"/>). Works without weights
    /// (a model zip), since the maps are made from the graph's own fc initializer.</summary>
    /// <exception cref="ObjectDisposedException">This transformer was disposed.</exception>
    internal byte[] OnnxWithHeatMaps()
    {
        ThrowIfDisposed("the heat-map graph");
        return HeatMapGraph.AddOutput(ContractOnnx());
    }

    private static void TryCutBack(Stream stream, long length)
    {
        try
        {
            stream.SetLength(length);
            stream.Position = length;
        }
        catch (Exception e) when (e is IOException or NotSupportedException or ObjectDisposedException)
        {
            // The write's own failure is the one to report; the remarks of SaveOnnx(Stream) say a partial model may remain.
        }
    }

    internal static ResNetClassifierTransformer Create(HostSettings host, PreparedModel model, ScoringColumns columns, ResNetClassifierOptions options)
    {
        var sessionOptions = host.Resolve(options.GpuDeviceId, options.FallbackToCpu, options.IntraOpNumThreads);

        // The session scores a graph with the heat maps grafted on; the graph kept (saved, exported) stays the model's own.
        var sessionOnnx = columns.HeatMap is null ? model.Onnx : HeatMapGraph.AddOutput(model.Onnx);
        var session = new OnnxScoringSession(sessionOnnx, sessionOptions, host.Warn);
        try
        {
            var scorer = new ResNetScorer(session, model.Labels, columns, options.BatchSize, options.RejectAllZeroPixels);
            return new ResNetClassifierTransformer(scorer, model.Onnx, model.Weights);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    private static ResNetClassifierTransformer FromSaved(HostSettings host, ScoringSessionOptions sessionOptions, SavedModelReader.Entry entry)
    {
        // The scoring session reads the labels itself: no second session just for the metadata.
        var session = new OnnxScoringSession(entry.Onnx, sessionOptions, host.Warn);
        try
        {
            var labels = session.Info.Labels ?? throw new InvalidDataException($"The saved classifier in '{entry.Source}' has no labels in its metadata.");
            var settings = entry.Settings;
            return new ResNetClassifierTransformer(new ResNetScorer(session, labels, settings.Columns, settings.BatchSize, settings.RejectAllZeroPixels), entry.Onnx, weights: null);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>A transformer per saved classifier, in order; those made are disposed when a later one fails.</summary>
    private static ResNetClassifierTransformer[] FromSaved(HostSettings host, ScoringSessionOptions sessionOptions, IReadOnlyList<SavedModelReader.Entry> entries)
    {
        var made = new List<ResNetClassifierTransformer>(entries.Count);
        try
        {
            foreach (var entry in entries)
            {
                made.Add(FromSaved(host, sessionOptions, entry));
            }

            return made.ToArray();
        }
        catch
        {
            made.ForEach(classifier => classifier.Dispose());
            throw;
        }
    }

    /// <summary>
    /// ML.NET's loading of the chain in <paramref name="path"/>, stubs in place of the saved networks, on this thread while
    /// <paramref name="makeClassifiers"/> runs on another. Both or neither: when one side fails, what the other made is
    /// disposed before the failure is rethrown.
    /// </summary>
    private static (ITransformer Chain, ResNetClassifierTransformer[] Classifiers) LoadChainBeside(
        Func<ResNetClassifierTransformer[]> makeClassifiers, MLContext mlContext, string path, IReadOnlyList<SavedModelReader.Entry> entries)
    {
        var making = Task.Run(makeClassifiers);
        ITransformer chain;
        try
        {
            chain = LoadStubbed(mlContext, path, entries);
        }
        catch
        {
            DisposeWhenMade(making);
            throw;
        }

        try
        {
            return (chain, making.GetAwaiter().GetResult());
        }
        catch
        {
            (chain as IDisposable)?.Dispose();
            throw;
        }
    }

    private static ITransformer LoadStubbed(MLContext mlContext, string path, IReadOnlyList<SavedModelReader.Entry> entries)
    {
        using var stubbed = SavedModelReader.WithReplacedOnnx(path, PortableModelWriter.StubsOfSaved(entries));
        return mlContext.Model.Load(stubbed, out _);
    }

    /// <summary><paramref name="chain"/> with each saved classifier's stub step replaced by its transformer; when a
    /// replacement fails, the chain (with the stubs' sessions still in it) and the classifiers are disposed.</summary>
    private static ITransformer PutInPlace(ITransformer chain, IReadOnlyList<SavedModelReader.Entry> entries, ResNetClassifierTransformer[] classifiers)
    {
        try
        {
            foreach (var (entry, classifier) in entries.Zip(classifiers))
            {
                chain = Replace(chain, entry.Path, classifier);
            }

            return chain;
        }
        catch
        {
            // The chain as far as it got: the stubs not yet replaced and the classifiers already placed, which dispose
            // once (a classifier's Dispose is idempotent, so the loop below may meet them again).
            (chain as IDisposable)?.Dispose();
            foreach (var classifier in classifiers)
            {
                classifier.Dispose();
            }

            throw;
        }
    }

    /// <summary>Waits for <paramref name="making"/> and disposes what it made. Its own failure is dropped: the caller is
    /// already throwing the error that stopped the load.</summary>
    private static void DisposeWhenMade(Task<ResNetClassifierTransformer[]> making)
    {
        try
        {
            making.Wait();
        }
        catch (AggregateException)
        {
            return;
        }

        foreach (var classifier in making.Result)
        {
            classifier.Dispose();
        }
    }

    private static ITransformer Replace(ITransformer root, int[] path, ITransformer replacement)
    {
        if (path.Length == 0)
        {
            (root as IDisposable)?.Dispose();
            return replacement;
        }

        if (root is not TransformerChain<ITransformer> chain)
        {
            throw new InvalidDataException($"Expected a transformer chain where the saved classifier sits, found {root.GetType().Name}.");
        }

        var elements = chain.ToArray();
        elements[path[0]] = Replace(elements[path[0]], path[1..], replacement);
        return new TransformerChain<ITransformer>(elements);
    }
}
