namespace Microsoft.ML.ResNet.Scoring;

/// <summary>
/// The lazy result of <c>Transform</c>: nothing is scored until a cursor moves, and then
/// <see cref="ResNetScorer.BatchSize"/> rows go through ONNX Runtime per run.
/// </summary>
internal sealed class BatchedScoringDataView : IDataView
{
    private readonly ResNetScorer _scorer;
    private readonly IDataView _input;

    public BatchedScoringDataView(ResNetScorer scorer, IDataView input)
    {
        _scorer = scorer;
        _input = input ?? throw new ArgumentNullException(nameof(input));
        Schema = scorer.OutputSchema(input.Schema);
    }

    public bool CanShuffle => _input.CanShuffle;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => _input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        ArgumentNullException.ThrowIfNull(columnsNeeded);
        return new BatchedScoringCursor(_scorer, _input, Schema, columnsNeeded, rand);
    }

    // One cursor: the batch is the unit of parallelism (ONNX Runtime's threads work inside each run).
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];
}
