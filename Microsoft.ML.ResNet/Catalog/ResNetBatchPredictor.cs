using Microsoft.ML.Data;
using Microsoft.ML.ResNet.Catalog;
using Microsoft.ML.ResNet.Scoring;

namespace Microsoft.ML.ResNet;

/// <summary>
/// Classifies single images for a server: thread-safe, asynchronous, and batching. Each call decodes, resizes and
/// extracts the image's pixels on the caller's thread exactly as the pipeline's ResizeImages and ExtractPixels do; one
/// background loop then coalesces concurrent calls into ONNX Runtime batches of up to
/// <see cref="ResNetPredictorOptions.MaxBatchSize"/>, waiting at most <see cref="ResNetPredictorOptions.MaxWait"/> after
/// the first (Triton's dynamic batching). The queue is bounded: beyond <see cref="ResNetPredictorOptions.QueueCapacity"/>
/// waiting calls a call throws <see cref="ResNetPredictorQueueFullException"/> at once.
/// </summary>
/// <remarks>
/// Disposing refuses new calls, finishes the calls already queued, then frees its buffers. The predictor runs its own ONNX
/// Runtime session (placed like the classifier's), so the classifier it was made from may be disposed right after.
/// Images are resized with ResizeImages' defaults (isotropic crop around the centre), as the sample's and
/// <c>ResNet34ClassifyImages</c>' pipelines do.
/// </remarks>
/// <example>See samples/WebApp/Program.cs.</example>
public sealed class ResNetBatchPredictor : IDisposable, IAsyncDisposable
{
    private readonly ImagePixelReader _reader;
    private readonly DynamicBatcher _batcher;
    private readonly bool _includeHeatMap;
    private readonly int _heatMapHeight;
    private readonly int _heatMapWidth;

    /// <summary>Creates a predictor over the ResNet classifier in <paramref name="model"/>.</summary>
    /// <param name="mlContext">Gives the GPU defaults (when <see cref="ResNetPredictorOptions.GpuDeviceId"/> is null) and the log.</param>
    /// <param name="model">A <see cref="ResNetClassifierTransformer"/>, or a chain holding exactly one (what
    /// <see cref="ResNetClassifierTransformer.Load"/> returns for a saved pipeline).</param>
    /// <param name="options">Batching, queue, top-k, heat map and device; null for the defaults.</param>
    /// <exception cref="ArgumentNullException"><paramref name="mlContext"/> or <paramref name="model"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="model"/> holds no ResNet classifier, or more than one.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range; the parameter name is the option.</exception>
    /// <exception cref="ObjectDisposedException">The classifier was disposed.</exception>
    /// <exception cref="InvalidOperationException">The GPU asked for cannot be used and falling back to the CPU is off.</exception>
    public ResNetBatchPredictor(MLContext mlContext, ITransformer model, ResNetPredictorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentNullException.ThrowIfNull(model);
        var settings = options?.Clone() ?? new ResNetPredictorOptions();
        settings.Validate();
        var classifier = FindClassifier(model);

        // A session of its own, placed by the same rule as the classifier's (the options, else the MLContext's GPU
        // settings), whose threads do not spin between runs: the callers' threads decode images meanwhile. A server
        // restarts with the same model: the session comes from the optimized graph kept the first time.
        var host = HostSettings.From(mlContext);
        var placement = host.Resolve(settings.GpuDeviceId, settings.FallbackToCpu, intraOpNumThreads: null) with { SpinBetweenRuns = false, CacheOptimizedGraph = true };
        var onnx = settings.IncludeHeatMap ? classifier.OnnxWithHeatMaps() : classifier.ScoringOnnx;
        var session = new OnnxScoringSession(onnx, placement, host.Warn);
        try
        {
            Labels = classifier.Labels;
            _reader = new ImagePixelReader(session.Info.Height, session.Info.Width);
            _batcher = new DynamicBatcher(session, Labels, settings.MaxBatchSize, settings.MaxWait, settings.QueueCapacity, settings.TopK, settings.IncludeHeatMap);
            (_includeHeatMap, _heatMapHeight, _heatMapWidth) = (settings.IncludeHeatMap, session.Info.HeatMapHeight, session.Info.HeatMapWidth);
            Device = session.Device;
            Options = settings;
        }
        finally
        {
            // The batcher's buffers hold their own reference on the session (and keep it alive until it is disposed).
            session.Dispose();
        }
    }

    /// <summary>Class labels in score order.</summary>
    public IReadOnlyList<string> Labels { get; }

    /// <summary>Input height the network reads; every image is resized to it.</summary>
    public int ImageHeight => _reader.Height;

    /// <summary>Input width the network reads; every image is resized to it.</summary>
    public int ImageWidth => _reader.Width;

    /// <summary>Where the session runs: "CPU" or "CUDA:n".</summary>
    public string Device { get; }

    /// <summary>A copy of the settings in use.</summary>
    public ResNetPredictorOptions Options { get => field.Clone(); private init; }

    /// <summary>Calls waiting for a run now.</summary>
    public int QueueLength => _batcher.QueueLength;

    /// <summary>ONNX Runtime runs so far (fewer than calls when batching coalesced them).</summary>
    internal long Runs => _batcher.Runs;

    /// <summary>Classifies an encoded image (PNG, JPEG, BMP, GIF or WebP).</summary>
    /// <param name="image">The file's bytes.</param>
    /// <param name="cancellationToken">Cancels the wait: the task ends as cancelled, and a call still queued is not scored.</param>
    /// <exception cref="ArgumentNullException"><paramref name="image"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="image"/> is empty or not a decodable image; the message says which.</exception>
    /// <exception cref="ResNetPredictorQueueFullException">The queue is full.</exception>
    /// <exception cref="ObjectDisposedException">The predictor was disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired (through the task).</exception>
    public Task<ResNetPrediction> PredictAsync(byte[] image, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        cancellationToken.ThrowIfCancellationRequested();
        var scored = Enqueue(_reader.Read(image, nameof(image)), cancellationToken);
        return Finish(scored, _includeHeatMap ? map => HeatMapImage.RenderPng(image, map, _heatMapHeight, _heatMapWidth) : null);
    }

    /// <summary>Classifies an encoded image read to its end from <paramref name="image"/> (not closed).</summary>
    /// <param name="image">A readable stream of the file's bytes.</param>
    /// <param name="cancellationToken">Cancels the read and the wait.</param>
    /// <exception cref="ArgumentNullException"><paramref name="image"/> is null.</exception>
    /// <exception cref="ArgumentException">The stream cannot be read, or holds no decodable image.</exception>
    /// <exception cref="ResNetPredictorQueueFullException">The queue is full.</exception>
    /// <exception cref="ObjectDisposedException">The predictor was disposed.</exception>
    public async Task<ResNetPrediction> PredictAsync(Stream image, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (!image.CanRead)
        {
            throw new ArgumentException($"The stream ({image.GetType().Name}) cannot be read.", nameof(image));
        }

        using var buffer = new MemoryStream();
        await image.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        var bytes = buffer.ToArray();
        return await PredictAsync(bytes, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Classifies a decoded image; it is not disposed.</summary>
    /// <param name="image">The image, e.g. from <c>MLImage.CreateFromFile</c>.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="ArgumentNullException"><paramref name="image"/> is null.</exception>
    /// <exception cref="ArgumentException">The image has no pixels.</exception>
    /// <exception cref="ResNetPredictorQueueFullException">The queue is full.</exception>
    /// <exception cref="ObjectDisposedException">The predictor was disposed.</exception>
    public Task<ResNetPrediction> PredictAsync(MLImage image, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        cancellationToken.ThrowIfCancellationRequested();
        var scored = Enqueue(_reader.Read(image, nameof(image)), cancellationToken);
        if (!_includeHeatMap)
        {
            return Finish(scored, render: null);
        }

        // The caller may dispose its image once this returns: the heat map is drawn over a copy.
        return FinishOverCopy(scored, MLImage.CreateFromPixels(image.Width, image.Height, image.PixelFormat, image.Pixels));
    }

    /// <summary>Refuses new calls, finishes the queued ones, then frees the buffers and the session reference.</summary>
    public void Dispose() => _batcher.Dispose();

    /// <summary>As <see cref="Dispose"/>, without blocking the caller while queued calls finish.</summary>
    public ValueTask DisposeAsync() => new(Task.Run(Dispose));

    private Task<ScoredImage> Enqueue(float[] pixels, CancellationToken cancellationToken) =>
        _batcher.Enqueue(new PendingPrediction(pixels, cancellationToken));

    private async Task<ResNetPrediction> FinishOverCopy(Task<ScoredImage> scored, MLImage copy)
    {
        using (copy)
        {
            return await Finish(scored, map => HeatMapImage.RenderPng(copy, map, _heatMapHeight, _heatMapWidth)).ConfigureAwait(false);
        }
    }

    /// <summary>The public result; the heat map is rendered here, on the caller's side, not in the batch loop.</summary>
    private static async Task<ResNetPrediction> Finish(Task<ScoredImage> scored, Func<float[], byte[]>? render)
    {
        var image = await scored.ConfigureAwait(false);
        return new ResNetPrediction(image.Top, image.HeatMap is { } map && render is not null ? render(map) : null);
    }

    private static ResNetClassifierTransformer FindClassifier(ITransformer model)
    {
        var found = Classifiers(model).ToList();
        return found.Count == 1
            ? found[0]
            : throw new ArgumentException(
                $"The model must hold exactly one ResNetClassifierTransformer; it holds {found.Count} ({model.GetType().Name}). "
                + "Load a saved model with ResNetClassifierTransformer.Load, not mlContext.Model.Load.",
                nameof(model));
    }

    private static IEnumerable<ResNetClassifierTransformer> Classifiers(ITransformer model) => model switch
    {
        ResNetClassifierTransformer classifier => [classifier],
        IEnumerable<ITransformer> chain => chain.SelectMany(Classifiers),
        _ => [],
    };
}
