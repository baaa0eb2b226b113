using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using Microsoft.ML.Data;
using Microsoft.ML.ResNet.Modeling;

namespace Microsoft.ML.ResNet.Training;

/// <summary>
/// Streams the pixel and label columns of an IDataView into reusable batch buffers. A background
/// producer reads, shuffles, augments and normalizes the next batches while libtorch computes, so
/// memory stays bounded (a shuffle pool and a few batches) unless the in-memory cache is asked for.
/// </summary>
/// <remarks>
/// Shuffling without the cache uses a pool like ML.NET's ShuffleRows: good enough for data that is
/// not sorted by class in long runs; sorted data should be cached or shuffled beforehand. The order,
/// the holdout split and every augmentation come from the seed and the epoch only, so a resumed run
/// sees exactly the batches an uninterrupted one would.
/// </remarks>
internal sealed class BatchFeeder
{
    private readonly IDataView _data;
    private readonly DataViewSchema.Column _features;
    private readonly DataViewSchema.Column _label;
    private readonly TrainingSettings _settings;
    private readonly DataSplit _split;
    private readonly Augmenter _augmenter;
    private readonly long _classCount;
    private List<(float[] Pixels, long Label)>? _cache;

    public BatchFeeder(IDataView data, string featureColumnName, string labelColumnName, TrainingSettings settings, DataSplit split)
    {
        _data = data;
        _features = data.Schema[featureColumnName];
        _label = data.Schema[labelColumnName];
        _settings = settings;
        _split = split;
        _augmenter = new Augmenter(settings);
        _classCount = _label.Type is KeyDataViewType key ? (long)Math.Min(key.Count, long.MaxValue) : long.MaxValue;
    }

    /// <summary>Rows this feeder delivers per epoch (labelled rows of its split); reads only the label column.</summary>
    public long CountRows(CancellationToken cancellation)
    {
        if (_cache is not null)
        {
            return _cache.Count;
        }

        long count = 0;
        using var cursor = _data.GetRowCursor([_label]);
        var label = LabelGetter(cursor);
        while (cursor.MoveNext())
        {
            if ((count & 1023) == 0)
            {
                cancellation.ThrowIfCancellationRequested();
            }

            if (InSplit(cursor.Position) && label() >= 0)
            {
                count++;
            }
        }

        return count;
    }

    /// <summary>
    /// The batches of one epoch. With <paramref name="train"/>, rows are shuffled and augmented and a
    /// trailing batch of one row is dropped (BatchNorm cannot train on it). A batch stays valid until
    /// the next one is requested.
    /// </summary>
    public IEnumerable<TrainingBatch> ReadEpoch(int epoch, bool train, CancellationToken cancellation)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        using var ready = new BlockingCollection<TrainingBatch>(Math.Max(1, _settings.PrefetchBatches));
        using var free = new BlockingCollection<TrainingBatch>();
        for (var i = 0; i < _settings.PrefetchBatches + 2; i++)
        {
            free.Add(new TrainingBatch(_settings.BatchSize, _settings.RowSize));
        }

        var producer = Task.Factory.StartNew(
            () => Produce(epoch, train, ready, free, stop.Token),
            stop.Token,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
        try
        {
            foreach (var batch in ready.GetConsumingEnumerable(cancellation))
            {
                yield return batch;
                free.Add(batch);
            }
        }
        finally
        {
            stop.Cancel();
            try
            {
                producer.Wait(CancellationToken.None);
            }
            catch (AggregateException)
            {
                // Observed here so it cannot escape a finally; a real failure is rethrown below, unwrapped.
            }
        }

        // Reached only when the consumer read to the end: the producer finished, or failed and completed the queue early.
        if (producer.Exception?.InnerExceptions.FirstOrDefault(e => e is not OperationCanceledException) is { } failure)
        {
            ExceptionDispatchInfo.Capture(failure).Throw();
        }

        cancellation.ThrowIfCancellationRequested();
    }

    private void Produce(int epoch, bool train, BlockingCollection<TrainingBatch> ready, BlockingCollection<TrainingBatch> free, CancellationToken cancellation)
    {
        try
        {
            var random = train ? new Random(SeedMixer.Mix(_settings.Seed, epoch, 1)) : null;
            var batch = free.Take(cancellation);
            batch.Count = 0;
            var rowSize = _settings.RowSize;

            void Emit(ReadOnlySpan<float> pixels, long label)
            {
                _augmenter.Apply(pixels, batch.Pixels.AsSpan(batch.Count * rowSize, rowSize), random);
                batch.Labels[batch.Count++] = label;
                if (batch.Count == _settings.BatchSize)
                {
                    ready.Add(batch, cancellation);
                    batch = free.Take(cancellation);
                    batch.Count = 0;
                }
            }

            if (_settings.CacheInMemory)
            {
                EmitCached(random, Emit, cancellation);
            }
            else
            {
                EmitStreamed(random, Emit, cancellation);
            }

            if (batch.Count > (train ? 1 : 0))
            {
                ready.Add(batch, cancellation);
            }
        }
        finally
        {
            ready.CompleteAdding();
        }
    }

    private delegate void Emitter(ReadOnlySpan<float> pixels, long label);

    private void EmitCached(Random? random, Emitter emit, CancellationToken cancellation)
    {
        _cache ??= ReadAll(cancellation);
        var order = Enumerable.Range(0, _cache.Count).ToArray();
        random?.Shuffle(order);
        foreach (var index in order)
        {
            emit(_cache[index].Pixels, _cache[index].Label);
        }
    }

    private List<(float[] Pixels, long Label)> ReadAll(CancellationToken cancellation)
    {
        var rows = new List<(float[] Pixels, long Label)>();
        ReadRows((pixels, label) => rows.Add((pixels.ToArray(), label)), cancellation);
        return rows;
    }

    private void EmitStreamed(Random? random, Emitter emit, CancellationToken cancellation)
    {
        if (random is null)
        {
            ReadRows(emit, cancellation);
            return;
        }

        var rowSize = _settings.RowSize;
        var capacity = Math.Max(1, _settings.ShufflePoolRows);
        var pool = new float[(long)capacity * rowSize];
        var labels = new long[capacity];
        var filled = 0;
        ReadRows(
            (pixels, label) =>
            {
                int slot;
                if (filled < capacity)
                {
                    slot = filled++;
                }
                else
                {
                    // A full pool: a random resident leaves for the batch and the new row takes its place.
                    slot = random.Next(capacity);
                    emit(pool.AsSpan(slot * rowSize, rowSize), labels[slot]);
                }

                pixels.CopyTo(pool.AsSpan(slot * rowSize, rowSize));
                labels[slot] = label;
            },
            cancellation);

        var rest = Enumerable.Range(0, filled).ToArray();
        random.Shuffle(rest);
        foreach (var slot in rest)
        {
            emit(pool.AsSpan(slot * rowSize, rowSize), labels[slot]);
        }
    }

    /// <summary>Every labelled row of the split, in the data's order, as dense pixels of the declared size.</summary>
    /// <exception cref="InvalidOperationException">A row cannot be read (an image file gone, undecodable) or used (a wrong
    /// pixel count, a NaN or infinite pixel, a label outside the key type, an empty image path); the message names the
    /// row, its text columns (the image path among them) and the column.</exception>
    private void ReadRows(Emitter onRow, CancellationToken cancellation)
    {
        var rowSize = _settings.RowSize;
        using var cursor = _data.GetRowCursor([_features, _label, .. TrainingRowErrors.DescribingColumns(_data.Schema)]);
        var errors = new TrainingRowErrors(cursor);
        var label = LabelGetter(cursor);
        var pixels = cursor.GetGetter<VBuffer<float>>(_features);
        var buffer = default(VBuffer<float>);
        var dense = new float[rowSize];
        while (true)
        {
            var last = cursor.Position;
            bool moved;
            try
            {
                moved = cursor.MoveNext();
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw Locate(last, e, cancellation);
            }

            if (!moved)
            {
                break;
            }

            cancellation.ThrowIfCancellationRequested();
            var position = cursor.Position;
            if (!InSplit(position))
            {
                continue;
            }

            long classIndex;
            try
            {
                classIndex = label();
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw errors.Failed(position, _label.Name, e);
            }

            if (classIndex < 0)
            {
                continue;
            }

            if (classIndex >= _classCount)
            {
                throw errors.Rejected(position, _label.Name, $"key value {classIndex + 1} is outside the label's key type (1 to {_classCount}; 0 is a missing label)");
            }

            try
            {
                pixels(ref buffer);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw errors.Failed(position, _features.Name, e);
            }

            if (buffer.Length != rowSize)
            {
                throw errors.Rejected(
                    position,
                    _features.Name,
                    $"it has {buffer.Length} values; expected 3 x {_settings.ImageHeight} x {_settings.ImageWidth} = {rowSize} (RGB planes of the declared image size)");
            }

            var values = buffer.GetValues();
            if (NonFinite.IndexOf(values) is var index and >= 0)
            {
                var at = buffer.IsDense ? index : buffer.GetIndices()[index];
                throw errors.Rejected(position, _features.Name, $"pixel {at} is {NonFinite.Text(values[index])}; expected finite values (0 to 1 from ExtractPixels with scaleImage 1/255)");
            }

            // A genuinely black image trains as it is. LoadImages also turns an empty image path into an all-black
            // image without complaint, and an empty path is never meant: refused where the row shows it.
            if (values.IndexOfAnyExcept(0f) < 0 && errors.EmptyTextColumn() is { } emptyColumn)
            {
                throw errors.Rejected(
                    position,
                    _features.Name,
                    $"every pixel is 0 and text column '{emptyColumn}' is empty, which is what LoadImages makes of an empty image path; give the row its image path or filter the row out (a black image with a path trains as it is)");
            }

            if (buffer.IsDense)
            {
                onRow(values, classIndex);
            }
            else
            {
                Array.Clear(dense);
                var indices = buffer.GetIndices();
                for (var i = 0; i < values.Length; i++)
                {
                    dense[indices[i]] = values[i];
                }

                onRow(dense, classIndex);
            }
        }
    }

    /// <summary>The error for a cursor whose MoveNext threw after <paramref name="lastPosition"/>, naming the failing row when it can be found.</summary>
    private InvalidOperationException Locate(long lastPosition, Exception cause, CancellationToken cancellation)
    {
        // ML.NET computes cachable columns on several threads and reports a row's failure from MoveNext, without
        // the row. Activating a column it cannot cache (the decoded image) keeps the cursor on one thread, so the
        // failure shows up in the failing row's own getter. Only done on failure: the fast path stays parallel.
        var columns = new List<DataViewSchema.Column> { _features, _label };
        columns.AddRange(TrainingRowErrors.DescribingColumns(_data.Schema));
        columns.AddRange(_data.Schema.Where(c => !c.IsHidden && c.Type is StructuredDataViewType and not VectorDataViewType));
        try
        {
            using var cursor = _data.GetRowCursor(columns.DistinctBy(c => c.Index));
            var errors = new TrainingRowErrors(cursor);
            var pixels = cursor.GetGetter<VBuffer<float>>(_features);
            var buffer = default(VBuffer<float>);
            while (cursor.MoveNext())
            {
                cancellation.ThrowIfCancellationRequested();
                try
                {
                    pixels(ref buffer);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    return errors.Failed(cursor.Position, _features.Name, e);
                }
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The search is best effort; the original failure is reported below.
        }

        return TrainingRowErrors.FailedAfter(lastPosition, cause);
    }

    private bool InSplit(long position) => _split switch
    {
        DataSplit.Training => !IsHoldout(position),
        DataSplit.Holdout => IsHoldout(position),
        _ => true,
    };

    /// <summary>A row's side of the split depends only on its position and the seed, so it never changes between epochs or runs.</summary>
    private bool IsHoldout(long position) =>
        _settings.ValidationFraction > 0 && SeedMixer.Unit(_settings.Seed, position) < _settings.ValidationFraction;

    /// <summary>The 0-based class of the current row, or -1 for a missing key (key value 0).</summary>
    private Func<long> LabelGetter(DataViewRowCursor cursor)
    {
        switch (_label.Type.RawType)
        {
            case var t when t == typeof(uint):
            {
                var getter = cursor.GetGetter<uint>(_label);
                uint value = 0;
                return () =>
                {
                    getter(ref value);
                    return (long)value - 1;
                };
            }

            case var t when t == typeof(ulong):
            {
                var getter = cursor.GetGetter<ulong>(_label);
                ulong value = 0;
                return () =>
                {
                    getter(ref value);
                    return (long)value - 1;
                };
            }

            case var t when t == typeof(ushort):
            {
                var getter = cursor.GetGetter<ushort>(_label);
                ushort value = 0;
                return () =>
                {
                    getter(ref value);
                    return (long)value - 1;
                };
            }

            case var t when t == typeof(byte):
            {
                var getter = cursor.GetGetter<byte>(_label);
                byte value = 0;
                return () =>
                {
                    getter(ref value);
                    return (long)value - 1;
                };
            }

            default:
                throw new InvalidOperationException($"Label column '{_label.Name}' must be a key type; got {_label.Type}.");
        }
    }
}
