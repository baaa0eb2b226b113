using System.Diagnostics;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>One queued image: its pixels, its caller's task and its cancellation.</summary>
internal sealed class PendingPrediction
{
    private readonly TaskCompletionSource<ScoredImage> _completion =
        new(TaskCreationOptions.RunContinuationsAsynchronously);

    private readonly CancellationToken _cancellation;
    private CancellationTokenRegistration _registration;

    /// <param name="pixels">3 x H x W floats, CHW, 0..1.</param>
    /// <param name="cancellation">The caller's token.</param>
    public PendingPrediction(float[] pixels, CancellationToken cancellation)
    {
        Pixels = pixels;
        _cancellation = cancellation;
        EnqueuedAt = Stopwatch.GetTimestamp();
    }

    public float[] Pixels { get; }

    /// <summary>Arrival time, in <see cref="Stopwatch"/> ticks.</summary>
    public long EnqueuedAt { get; }

    public Task<ScoredImage> Task => _completion.Task;

    /// <summary>Completes the task as cancelled when the caller's token fires first; called once it is queued.</summary>
    public void WatchCancellation()
    {
        if (_cancellation.CanBeCanceled)
        {
            _registration = _cancellation.Register(static state =>
            {
                var self = (PendingPrediction)state!;
                self._completion.TrySetCanceled(self._cancellation);
            }, this);
        }
    }

    public void Complete(ScoredImage prediction)
    {
        _completion.TrySetResult(prediction);
        Finish();
    }

    public void Fail(Exception error)
    {
        _completion.TrySetException(error);
        Finish();
    }

    /// <summary>Lets go of the caller's token once the request has its answer (or was dropped after cancellation).</summary>
    public void Finish() => _registration.Dispose();
}
