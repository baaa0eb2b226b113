using System.Diagnostics;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>
/// Coalesces concurrent single-image requests into ONNX Runtime batches, as Triton's dynamic batcher does: one
/// background thread takes the first waiting request, waits up to <c>maxWait</c> from that request's arrival (or
/// until <c>maxBatchSize</c> are waiting), then scores them in one run. The queue is bounded: a request beyond its
/// capacity is refused at once. Disposing stops new requests, scores those already queued, then frees the buffers.
/// With heat maps, each result carries the predicted class's map, copied out; rendering it is left to the caller's
/// side, so the loop only runs the network.
/// </summary>
internal sealed class DynamicBatcher : IDisposable
{
    private readonly ScoringBatch _batch;
    private readonly IReadOnlyList<string> _labels;
    private readonly int _topK;
    private readonly long _maxWaitTicks;
    private readonly int _queueCapacity;
    private readonly Queue<PendingPrediction> _queue = new();
    // A plain monitor, not System.Threading.Lock: the loop needs Monitor.Wait with a timeout.
    private readonly object _gate = new();
    private readonly Thread _loop;
    private bool _closing;
    private long _runs;
    private long _scored;

    /// <param name="session">The session to run; the batch takes its own reference on it.</param>
    /// <param name="labels">Class labels in output order.</param>
    /// <param name="maxBatchSize">Most requests per run.</param>
    /// <param name="maxWait">How long the first request of a batch waits for company.</param>
    /// <param name="queueCapacity">Requests that may wait.</param>
    /// <param name="topK">Labels returned per request.</param>
    /// <param name="withHeatMaps">Also return the predicted class's activation map (the session's graph must have them).</param>
    public DynamicBatcher(OnnxScoringSession session, IReadOnlyList<string> labels, int maxBatchSize, TimeSpan maxWait, int queueCapacity, int topK, bool withHeatMaps)
    {
        _batch = new ScoringBatch(session, maxBatchSize, withFeatures: false, withHeatMaps: withHeatMaps);
        _labels = labels;
        _topK = Math.Min(topK, labels.Count);
        _maxWaitTicks = (long)(maxWait.TotalSeconds * Stopwatch.Frequency);
        _queueCapacity = queueCapacity;
        MaxBatchSize = maxBatchSize;
        PixelCount = session.Info.PixelCount;
        _loop = new Thread(Loop) { IsBackground = true, Name = "ResNet dynamic batcher" };
        _loop.Start();
    }

    public int MaxBatchSize { get; }

    public int PixelCount { get; }

    /// <summary>ONNX Runtime runs so far (tests compare it with the number of requests).</summary>
    public long Runs => Interlocked.Read(ref _runs);

    /// <summary>Images scored so far.</summary>
    public long Scored => Interlocked.Read(ref _scored);

    /// <summary>Requests waiting for a run now.</summary>
    public int QueueLength
    {
        get
        {
            lock (_gate)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>Queues one image's pixels; the task completes when its batch has run.</summary>
    /// <exception cref="ResNetPredictorQueueFullException">The queue holds its capacity already.</exception>
    /// <exception cref="ObjectDisposedException">The batcher is disposed.</exception>
    public Task<ScoredImage> Enqueue(PendingPrediction request)
    {
        lock (_gate)
        {
            if (_closing)
            {
                throw new ObjectDisposedException(nameof(ResNetBatchPredictor), "The ResNetBatchPredictor was disposed; create a new one to predict.");
            }

            if (_queue.Count >= _queueCapacity)
            {
                throw new ResNetPredictorQueueFullException(_queueCapacity);
            }

            _queue.Enqueue(request);

            // The loop waits for the first request, or for a full batch; other arrivals need not wake it.
            if (_queue.Count == 1 || _queue.Count >= MaxBatchSize)
            {
                Monitor.Pulse(_gate);
            }
        }

        request.WatchCancellation();
        return request.Task;
    }

    /// <summary>Refuses new requests, scores the queued ones, stops the loop and frees the buffers.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_closing)
            {
                return;
            }

            _closing = true;
            Monitor.PulseAll(_gate);
        }

        _loop.Join();
        _batch.Dispose();
    }

    private void Loop()
    {
        var taken = new List<PendingPrediction>(MaxBatchSize);
        while (NextBatch(taken))
        {
            if (taken.Count > 0)
            {
                Score(taken);
            }

            taken.Clear();
        }
    }

    /// <summary>Waits for a batch and moves it into <paramref name="taken"/>; false once closing with nothing left.</summary>
    private bool NextBatch(List<PendingPrediction> taken)
    {
        lock (_gate)
        {
            while (_queue.Count == 0)
            {
                if (_closing)
                {
                    return false;
                }

                Monitor.Wait(_gate);
            }

            // Triton counts the delay from the first request's arrival: a request that already waited while the previous
            // batch ran is not made to wait again.
            var deadline = _queue.Peek().EnqueuedAt + _maxWaitTicks;
            while (_queue.Count < MaxBatchSize && !_closing)
            {
                var remaining = deadline - Stopwatch.GetTimestamp();
                if (remaining <= 0)
                {
                    break;
                }

                Monitor.Wait(_gate, TimeSpan.FromSeconds((double)remaining / Stopwatch.Frequency));
            }

            while (taken.Count < MaxBatchSize && _queue.TryDequeue(out var request))
            {
                // A request cancelled while it waited is dropped here; it has its answer already.
                if (request.Task.IsCompleted)
                {
                    request.Finish();
                }
                else
                {
                    taken.Add(request);
                }
            }

            return true;
        }
    }

    private void Score(List<PendingPrediction> requests)
    {
        try
        {
            for (var i = 0; i < requests.Count; i++)
            {
                requests[i].Pixels.CopyTo(_batch.Pixels, i * PixelCount);
            }

            _batch.Run(requests.Count);
            Interlocked.Increment(ref _runs);
            Interlocked.Add(ref _scored, requests.Count);
        }
        catch (Exception e)
        {
            foreach (var request in requests)
            {
                request.Fail(e);
            }

            return;
        }

        for (var row = 0; row < requests.Count; row++)
        {
            var (top, best) = Top(row);
            requests[row].Complete(new ScoredImage(top, HeatMap(row, best)));
        }
    }

    /// <summary>The map of class <paramref name="label"/> for row <paramref name="row"/> of the last run, or null without heat maps.</summary>
    private float[]? HeatMap(int row, int label)
    {
        if (_batch.HeatMaps.Length == 0)
        {
            return null;
        }

        var cells = _batch.HeatMaps.Length / (MaxBatchSize * _labels.Count);
        return _batch.HeatMaps.AsSpan(((row * _labels.Count) + label) * cells, cells).ToArray();
    }

    /// <summary>The best labels of row <paramref name="row"/>, and the index of the best class.</summary>
    private (ResNetLabelScore[] Top, int Best) Top(int row)
    {
        var classes = _labels.Count;
        var probabilities = _batch.Probabilities.AsSpan(row * classes, classes);
        var order = new int[classes];
        var keys = new float[classes];
        for (var i = 0; i < classes; i++)
        {
            order[i] = i;
            keys[i] = -probabilities[i];
        }

        // Stable for equal scores: the lower class index first, as ArgMax picks it.
        Array.Sort(keys, order);
        var top = new ResNetLabelScore[_topK];
        for (var i = 0; i < _topK; i++)
        {
            top[i] = new ResNetLabelScore(_labels[order[i]], probabilities[order[i]]);
        }

        return (top, order[0]);
    }
}
