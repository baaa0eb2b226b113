using Microsoft.ML.Data;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>
/// The scoring core behind the public transformer: one session, the labels and the column names;
/// it checks input schemas, builds the output schema and hands out batched views and single-row
/// mappers. Thread-safe (each view cursor or row brings its own <see cref="ScoringBatch"/>). Dispose it.
/// </summary>
internal sealed class ResNetScorer : IDisposable
{
    public ResNetScorer(OnnxScoringSession session, IReadOnlyList<string> labels, ScoringColumns columns, int batchSize, bool rejectAllZeroPixels)
    {
        Session = session;
        Labels = labels;
        Columns = columns;
        BatchSize = batchSize;
        RejectAllZeroPixels = rejectAllZeroPixels;
        if (labels.Count != session.Info.NumClasses)
        {
            throw new ArgumentException(
                $"The model has {session.Info.NumClasses} classes but {labels.Count} labels were given ({Preview(labels)}).", nameof(labels));
        }

        var duplicate = labels.GroupBy(l => l, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException($"Label '{duplicate.Key}' appears {duplicate.Count()} times; key values must be distinct.", nameof(labels));
        }

        if (columns.Features is not null && !session.Info.HasFeatures)
        {
            throw new ArgumentException(
                $"Column '{columns.Features}' asks for the embedding, but the ONNX model has no 'features' output (export it with IncludeFeatures).", nameof(columns));
        }

        if (columns.HeatMap is not null && !session.Info.HasHeatMaps)
        {
            throw new ArgumentException(
                $"Column '{columns.HeatMap}' asks for heat maps, but the session's ONNX model has no '{Export.OnnxContract.HeatMapsOutput}' output.", nameof(columns));
        }

        HeatMapClassIndex = HeatMapClass(labels, columns.HeatMapClass);
    }

    /// <summary>The class whose map the heat-map column holds; null for each row's predicted class.</summary>
    public int? HeatMapClassIndex { get; }

    /// <summary>The index of <paramref name="label"/> among <paramref name="labels"/>; null for a null label.</summary>
    /// <exception cref="ArgumentException">The label is not one of the model's; the message lists them.</exception>
    public static int? HeatMapClass(IReadOnlyList<string> labels, string? label)
    {
        if (label is null)
        {
            return null;
        }

        for (var i = 0; i < labels.Count; i++)
        {
            if (string.Equals(labels[i], label, StringComparison.Ordinal))
            {
                return i;
            }
        }

        throw new ArgumentException(
            $"HeatMapClass '{label}' is not one of the model's {labels.Count} labels: {Preview(labels, 20)}. Give one of them, or null for each row's predicted label.",
            nameof(ResNetClassifierOptions.HeatMapClass));
    }

    public OnnxScoringSession Session { get; }

    public IReadOnlyList<string> Labels { get; }

    public ScoringColumns Columns { get; }

    public int BatchSize { get; }

    public bool RejectAllZeroPixels { get; }

    public ScoringModelInfo Info => Session.Info;

    /// <summary>The pixel column's index; throws ML.NET-style schema errors.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The column is missing or not Vector&lt;Single, 3*H*W&gt;.</exception>
    public int CheckInput(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var column = inputSchema.GetColumnOrNull(Columns.Input)
            ?? throw MissingColumn(Columns.Input, inputSchema.Where(c => !c.IsHidden).Select(c => c.Name));
        if (column.Type is not VectorDataViewType { ItemType: NumberDataViewType n } vector
            || n != NumberDataViewType.Single
            || vector.Size != Info.PixelCount)
        {
            throw WrongType(Columns.Input, column.Type.ToString() ?? column.Type.GetType().Name);
        }

        return column.Index;
    }

    public ArgumentOutOfRangeException MissingColumn(string name, IEnumerable<string> existing) =>
        SchemaErrors.Missing("inputSchema", "input", name, existing);

    public ArgumentOutOfRangeException WrongType(string name, string actual) =>
        SchemaErrors.Pixels("inputSchema", name, Info.Height, Info.Width, actual, "The model");

    public DataViewSchema OutputSchema(DataViewSchema inputSchema)
    {
        CheckInput(inputSchema);
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);

        var labels = Labels.Select(l => l.AsMemory()).ToArray();
        ValueGetter<VBuffer<ReadOnlyMemory<char>>> names = (ref VBuffer<ReadOnlyMemory<char>> dst) =>
            dst = new VBuffer<ReadOnlyMemory<char>>(labels.Length, labels.ToArray());

        var setId = ScoreAnnotations.NextSetId(inputSchema);
        builder.AddColumn(Columns.Score, new VectorDataViewType(NumberDataViewType.Single, labels.Length), ScoreAnnotations.ForScore(names, labels.Length, setId));
        builder.AddColumn(Columns.PredictedLabel, new KeyDataViewType(typeof(uint), labels.Length), ScoreAnnotations.ForPredictedLabel(names, labels.Length, setId));

        if (Columns.Features is not null)
        {
            builder.AddColumn(Columns.Features, new VectorDataViewType(NumberDataViewType.Single, Info.FeatureSize));
        }

        if (Columns.HeatMap is not null)
        {
            builder.AddColumn(Columns.HeatMap, new VectorDataViewType(NumberDataViewType.Single, Info.HeatMapHeight, Info.HeatMapWidth));
        }

        return builder.ToSchema();
    }

    public IDataView Transform(IDataView input) => new BatchedScoringDataView(this, input);

    public IRowToRowMapper Mapper(DataViewSchema inputSchema) => new SingleRowMapper(this, inputSchema);

    /// <summary>Buffers for <paramref name="capacity"/> rows that read the outputs the columns ask for.</summary>
    public ScoringBatch NewBatch(int capacity, bool cacheTensors) =>
        new(Session, capacity, Columns.Features is not null, Columns.HeatMap is not null, cacheTensors);

    /// <summary>Index of the largest probability in row <paramref name="row"/> of a [rows, K] buffer.</summary>
    public int ArgMax(float[] probabilities, int row)
    {
        var k = Info.NumClasses;
        var span = probabilities.AsSpan(row * k, k);
        var best = 0;
        for (var i = 1; i < span.Length; i++)
        {
            if (span[i] > span[best])
            {
                best = i;
            }
        }

        return best;
    }

    public void Dispose() => Session.Dispose();

    private static string Preview(IReadOnlyList<string> labels, int count = 5) =>
        string.Join(", ", labels.Take(count)) + (labels.Count > count ? ", ..." : string.Empty);
}
