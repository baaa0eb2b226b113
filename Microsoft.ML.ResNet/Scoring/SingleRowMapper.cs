using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>
/// The row-to-row face PredictionEngine needs: each row it makes owns a one-row batch and scores
/// when an output is first read for a new input position. Rows are not shared between threads
/// (one PredictionEngine per thread, as PredictionEnginePool does); the session is.
/// </summary>
internal sealed class SingleRowMapper : IRowToRowMapper
{
    private readonly ResNetScorer _scorer;
    private readonly int _pixelIndex;
    private readonly DataViewSchema.Column? _image;

    public SingleRowMapper(ResNetScorer scorer, DataViewSchema inputSchema)
    {
        _scorer = scorer;
        InputSchema = inputSchema;
        _pixelIndex = scorer.CheckInput(inputSchema);
        OutputSchema = scorer.OutputSchema(inputSchema);
        _image = scorer.Columns.Image is { } imageName && inputSchema.GetColumnOrNull(imageName) is { Type: ImageDataViewType } image
            ? image
            : null;
    }

    public DataViewSchema InputSchema { get; }

    public DataViewSchema OutputSchema { get; }

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        var wanted = dependingColumns.ToArray();
        var inputs = wanted.Where(c => c.Index < InputSchema.Count).Select(c => InputSchema[c.Index]);
        if (wanted.Any(c => c.Index >= InputSchema.Count))
        {
            inputs = inputs.Append(InputSchema[_pixelIndex]).Concat(RowErrors.DescribingColumns(InputSchema));
            if (_image is { } image)
            {
                inputs = inputs.Append(image);
            }
        }

        return inputs.DistinctBy(c => c.Index).ToArray();
    }

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) =>
        new ScoredRow(_scorer, input, OutputSchema, _pixelIndex, _image, activeColumns);

    private sealed class ScoredRow : DataViewRow
    {
        private readonly ResNetScorer _scorer;
        private readonly DataViewRow _input;
        private readonly bool[] _active;
        private readonly ScoringBatch? _batch;
        private readonly ValueGetter<VBuffer<float>>? _pixels;
        private readonly RowErrors? _errors;
        private readonly ValueGetter<MLImage>? _image;
        private VBuffer<float> _pixelScratch;
        private long _scoredPosition = -1;

        /// <exception cref="ObjectDisposedException">The classifier was disposed before this row was made.</exception>
        public ScoredRow(ResNetScorer scorer, DataViewRow input, DataViewSchema schema, int pixelIndex, DataViewSchema.Column? image, IEnumerable<DataViewSchema.Column> activeColumns)
        {
            _scorer = scorer;
            _input = input;
            Schema = schema;
            _active = new bool[schema.Count];
            foreach (var column in activeColumns)
            {
                _active[column.Index] = true;
            }

            if (_active.Skip(input.Schema.Count).Any(a => a))
            {
                _pixels = input.GetGetter<VBuffer<float>>(input.Schema[pixelIndex]);
                _errors = new RowErrors(input);
                _image = image is { } column && input.IsColumnActive(column) ? input.GetGetter<MLImage>(column) : null;
                // PredictionEngine never disposes this row: the batch keeps no native object between runs.
                _batch = scorer.NewBatch(1, cacheTensors: false);
            }
        }

        public override DataViewSchema Schema { get; }

        public override long Position => _input.Position;

        public override long Batch => _input.Batch;

        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) => _active[column.Index];

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!_active[column.Index])
            {
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when the row was created.");
            }

            if (column.Index < _input.Schema.Count)
            {
                return _input.GetGetter<TValue>(_input.Schema[column.Index]);
            }

            return OutputGetters.Make(_scorer, _batch!, static () => 0, EnsureScored, column.Index - _input.Schema.Count) as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"Column '{column.Name}' is {column.Type}, not {typeof(TValue).Name}.");
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _batch?.Dispose();
            }

            base.Dispose(disposing);
        }

        private void EnsureScored()
        {
            if (_scoredPosition == _input.Position && _scoredPosition >= 0)
            {
                return;
            }

            try
            {
                _pixels!(ref _pixelScratch);
            }
            catch (Exception ex)
            {
                throw _errors!.Failed(_input.Position, _scorer.Columns.Input, ex);
            }

            _pixelScratch.CopyTo(_batch!.Pixels);
            var problem = PixelChecks.Problem(_batch.Pixels, _scorer.RejectAllZeroPixels);
            if (problem is not null)
            {
                throw _errors!.Rejected(_input.Position, _scorer.Columns.Input, problem);
            }

            if (_image is not null && PixelChecks.IsAllZero(_batch.Pixels) && !HasImage())
            {
                throw _errors!.Rejected(_input.Position, _scorer.Columns.Image!, RowErrors.NoImage);
            }

            _batch.Run(1);
            var outputProblem = PixelChecks.OutputProblem(_batch.Probabilities);
            if (outputProblem is not null)
            {
                throw _errors!.BadOutput(_input.Position, outputProblem);
            }

            _scoredPosition = _input.Position;
        }

        private bool HasImage()
        {
            MLImage image = null!;
            try
            {
                _image!(ref image);
                return image is not null;
            }
            catch (Exception ex)
            {
                throw _errors!.Failed(_input.Position, _scorer.Columns.Image!, ex);
            }
            finally
            {
                image?.Dispose();
            }
        }
    }
}
