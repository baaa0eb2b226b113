using System.Runtime.ExceptionServices;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>
/// Reads up to a batch of input rows (copying the pass-through columns the consumer asked for),
/// scores them in one ONNX Runtime run into reused buffers, then serves them row by row.
/// A bad row fails the move that reads it, with an error naming the row and its text columns; the cursor
/// then stays failed (every later move throws the same error), so no unscored row is ever served.
/// </summary>
internal sealed class BatchedScoringCursor : DataViewRowCursor
{
    private readonly ResNetScorer _scorer;
    private readonly DataViewRowCursor _input;
    private readonly int _inputCount;
    private readonly bool[] _active;
    private readonly bool _scoring;
    private readonly ScoringBatch? _batch;
    private readonly ValueGetter<VBuffer<float>>? _pixels;
    private readonly Dictionary<int, CachedColumn> _cached = [];
    private readonly ValueGetter<DataViewRowId> _inputIds;
    private readonly DataViewRowId[] _ids;
    private readonly long[] _rows;
    private readonly RowErrors _errors;
    private readonly ValueGetter<MLImage>? _image;
    private ExceptionDispatchInfo? _failure;
    private VBuffer<float> _pixelScratch;
    private int _filled;
    private int _slot = -1;
    private long _position = -1;
    private bool _done;

    public BatchedScoringCursor(ResNetScorer scorer, IDataView input, DataViewSchema schema, IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand)
    {
        _scorer = scorer;
        Schema = schema;
        _inputCount = input.Schema.Count;
        _active = new bool[schema.Count];
        foreach (var column in columnsNeeded)
        {
            _active[column.Index] = true;
        }

        _scoring = _active.Skip(_inputCount).Any(a => a);
        var pixelIndex = scorer.CheckInput(input.Schema);
        var inputColumns = input.Schema.Where(c => _active[c.Index]).Concat(RowErrors.DescribingColumns(input.Schema));
        var image = scorer.Columns.Image is { } imageName && input.Schema.GetColumnOrNull(imageName) is { Type: ImageDataViewType } imageColumn
            ? imageColumn
            : (DataViewSchema.Column?)null;
        if (_scoring)
        {
            inputColumns = inputColumns.Append(input.Schema[pixelIndex]);
            if (image is { } column)
            {
                inputColumns = inputColumns.Append(column);
            }
        }

        _input = OpenInput(input, inputColumns.DistinctBy(c => c.Index).ToArray(), rand);
        try
        {
            var capacity = scorer.BatchSize;
            foreach (var column in input.Schema.Where(c => _active[c.Index]))
            {
                _cached[column.Index] = CachedColumn.Create(_input, column, capacity);
            }

            _inputIds = _input.GetIdGetter();
            _ids = new DataViewRowId[capacity];
            _rows = new long[capacity];
            _errors = new RowErrors(_input);
            if (_scoring)
            {
                _pixels = _input.GetGetter<VBuffer<float>>(input.Schema[pixelIndex]);
                _image = image is { } column ? _input.GetGetter<MLImage>(column) : null;
                _batch = scorer.NewBatch(capacity, cacheTensors: true);
            }
        }
        catch
        {
            _input.Dispose();
            throw;
        }
    }

    public override DataViewSchema Schema { get; }

    public override long Position => _position;

    public override long Batch => 0;

    public override bool IsColumnActive(DataViewSchema.Column column) => _active[column.Index];

    public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId dst) => dst = _ids[_slot];

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
    {
        if (!_active[column.Index])
        {
            throw new InvalidOperationException($"Column '{column.Name}' was not requested when the cursor was created.");
        }

        Delegate getter = column.Index < _inputCount
            ? _cached[column.Index].Getter(() => _slot)
            : OutputGetters.Make(_scorer, _batch!, () => _slot, static () => { }, column.Index - _inputCount);
        return getter as ValueGetter<TValue>
            ?? throw new InvalidOperationException($"Column '{column.Name}' is {column.Type}, not {typeof(TValue).Name}.");
    }

    public override bool MoveNext()
    {
        _failure?.Throw();
        if (_done)
        {
            return false;
        }

        if (_slot + 1 < _filled)
        {
            _slot++;
            _position++;
            return true;
        }

        try
        {
            Fill();
        }
        catch (Exception ex)
        {
            // Half a batch was read but not scored: serving it, or reading on past the bad row, would hand out
            // stale scores. The cursor stays failed instead.
            _filled = 0;
            _failure = ExceptionDispatchInfo.Capture(ex);
            throw;
        }

        if (_filled == 0)
        {
            _done = true;
            return false;
        }

        _slot = 0;
        _position++;
        return true;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _batch?.Dispose();
            _input.Dispose();
        }

        base.Dispose(disposing);
    }

    private static DataViewRowCursor OpenInput(IDataView input, DataViewSchema.Column[] columns, Random? rand)
    {
        // A set of one asks the upstream for a plain cursor: ML.NET's parallel (split/consolidated)
        // cursors compute rows ahead on worker threads, which hides which row failed.
        var cursors = input.GetRowCursorSet(columns, 1, rand);
        if (cursors.Length == 1)
        {
            return cursors[0];
        }

        foreach (var cursor in cursors)
        {
            cursor.Dispose();
        }

        return input.GetRowCursor(columns, rand);
    }

    private void Fill()
    {
        _filled = 0;
        var capacity = _scorer.BatchSize;
        var pixelCount = _scorer.Info.PixelCount;
        while (_filled < capacity)
        {
            long row = _input.Position + 1;
            try
            {
                if (!_input.MoveNext())
                {
                    break;
                }

                row = _input.Position;
                if (_scoring)
                {
                    _pixels!(ref _pixelScratch);
                }

                foreach (var cached in _cached.Values)
                {
                    cached.Store(_filled);
                }

                _inputIds(ref _ids[_filled]);
            }
            catch (Exception ex)
            {
                throw _errors.Failed(row, _scorer.Columns.Input, ex);
            }

            if (_scoring)
            {
                var target = _batch!.Pixels.AsSpan(_filled * pixelCount, pixelCount);
                _pixelScratch.CopyTo(target);
                var problem = PixelChecks.Problem(target, _scorer.RejectAllZeroPixels);
                if (problem is not null)
                {
                    throw _errors.Rejected(row, _scorer.Columns.Input, problem);
                }

                if (_image is not null && PixelChecks.IsAllZero(target) && !HasImage(row))
                {
                    throw _errors.Rejected(row, _scorer.Columns.Image!, RowErrors.NoImage);
                }
            }

            _rows[_filled] = row;
            _filled++;
        }

        if (_scoring && _filled > 0)
        {
            _batch!.Run(_filled);
            var k = _scorer.Info.NumClasses;
            for (var slot = 0; slot < _filled; slot++)
            {
                var problem = PixelChecks.OutputProblem(_batch.Probabilities.AsSpan(slot * k, k));
                if (problem is not null)
                {
                    throw RowErrors.BadOutputInBatch(_rows[slot], problem);
                }
            }
        }
    }

    /// <summary>
    /// Whether the row's MLImage exists. Asked only for all-zero rows (it loads the image again): LoadImages
    /// gives no image for an empty path and ExtractPixels turns that into zeros, like a black image's.
    /// </summary>
    private bool HasImage(long row)
    {
        MLImage image = null!;
        try
        {
            _image!(ref image);
            return image is not null;
        }
        catch (Exception ex)
        {
            throw _errors.Failed(row, _scorer.Columns.Image!, ex);
        }
        finally
        {
            image?.Dispose();
        }
    }
}
