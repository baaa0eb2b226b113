using Microsoft.ML;
using Microsoft.ML.ResNet;

namespace WebApp;

/// <summary>
/// Loads the model in the background so the server answers <c>/health</c> at once and <c>/ready</c> once the model is
/// in; owns the predictor and disposes it (finishing queued requests) when the server stops.
/// </summary>
internal sealed class ModelHost : IHostedService, IAsyncDisposable
{
    private readonly ServerSettings _settings;
    private readonly ILogger<ModelHost> _log;
    private volatile ResNetBatchPredictor? _predictor;
    private volatile string? _failure;

    public ModelHost(ServerSettings settings, ILogger<ModelHost> log)
    {
        _settings = settings;
        _log = log;
    }

    /// <summary>The predictor, or null while the model loads (or when it failed to).</summary>
    public ResNetBatchPredictor? Predictor => _predictor;

    /// <summary>Why the model is not there: still loading, or the load's error.</summary>
    public string NotReadyReason => _failure ?? $"The model '{_settings.ModelPath}' is still loading.";

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = Task.Run(Load, CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_predictor is { } predictor)
        {
            await predictor.DisposeAsync();
        }
    }

    public ValueTask DisposeAsync() => _predictor?.DisposeAsync() ?? ValueTask.CompletedTask;

    private void Load()
    {
        try
        {
            var ml = new MLContext();
            var model = ResNetClassifierTransformer.Load(ml, _settings.ModelPath);
            var options = new ResNetPredictorOptions
            {
                MaxBatchSize = _settings.MaxBatchSize,
                MaxWait = TimeSpan.FromMilliseconds(_settings.MaxWaitMilliseconds),
                QueueCapacity = _settings.QueueCapacity,
                TopK = _settings.TopK,
                IncludeHeatMap = _settings.HeatMap,
            };
            try
            {
                _predictor = new ResNetBatchPredictor(ml, model, options);
            }
            catch (Exception e) when (options.IncludeHeatMap && e is InvalidOperationException or NotSupportedException or InvalidDataException)
            {
                // A network whose head the heat-map graph cannot read still classifies: serve it without the maps.
                _log.LogWarning("No heat maps for '{Path}' ({Reason}); serving predictions only.", _settings.ModelPath, e.Message);
                options.IncludeHeatMap = false;
                _predictor = new ResNetBatchPredictor(ml, model, options);
            }

            // The predictor holds its own reference on the session: the loaded pipeline is not needed any more.
            (model as IDisposable)?.Dispose();
            _log.LogInformation("Model '{Path}' loaded: {Classes} classes, {Height}x{Width} input, on {Device}.",
                _settings.ModelPath, _predictor.Labels.Count, _predictor.ImageHeight, _predictor.ImageWidth, _predictor.Device);
        }
        catch (Exception e)
        {
            _failure = $"The model '{_settings.ModelPath}' could not be loaded: {e.Message}";
            _log.LogError(e, "{Failure}", _failure);
        }
    }
}
