using Microsoft.ML.Data;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>
/// Builds the estimator's output <see cref="SchemaShape"/>. <see cref="SchemaShape.Column"/> has no
/// public constructor, so the added columns are described the public way ML.NET offers: as the
/// output type of a CustomMapping estimator (whose GetOutputSchema turns a SchemaDefinition into
/// schema-shape columns, types and annotations included). Nothing is ever mapped with it.
/// </summary>
internal static class OutputShape
{
    public static SchemaShape Build(MLContext mlContext, SchemaShape input, IReadOnlyList<string> labels, int featureSize, ScoringColumns columns)
    {
        var definition = SchemaDefinition.Create(typeof(OutputRow));
        var names = new VBuffer<ReadOnlyMemory<char>>(labels.Count, labels.Select(l => l.AsMemory()).ToArray());
        var namesType = new VectorDataViewType(TextDataViewType.Instance, labels.Count);

        var score = definition[nameof(OutputRow.Score)];
        score.ColumnType = new VectorDataViewType(NumberDataViewType.Single, labels.Count);
        ScoreAnnotations.AddTo(score, names, namesType, isScore: true);
        score.ColumnName = columns.Score;

        var key = definition[nameof(OutputRow.PredictedLabel)];
        key.ColumnType = new KeyDataViewType(typeof(uint), labels.Count);
        ScoreAnnotations.AddTo(key, names, namesType, isScore: false);
        key.ColumnName = columns.PredictedLabel;

        var features = definition[nameof(OutputRow.Features)];
        if (columns.Features is null)
        {
            definition.Remove(features);
        }
        else
        {
            features.ColumnType = new VectorDataViewType(NumberDataViewType.Single, featureSize);
            features.ColumnName = columns.Features;
        }

        var heatMap = definition[nameof(OutputRow.HeatMap)];
        if (columns.HeatMap is null)
        {
            definition.Remove(heatMap);
        }
        else
        {
            // The size is known once the session is open; a schema shape records only that it is a fixed-size vector.
            heatMap.ColumnType = new VectorDataViewType(NumberDataViewType.Single, 1);
            heatMap.ColumnName = columns.HeatMap;
        }

        var describer = mlContext.Transforms.CustomMapping<NoInput, OutputRow>(
            static (_, _) => throw new InvalidOperationException("Only used to describe a schema."),
            contractName: null,
            inputSchemaDefinition: null,
            outputSchemaDefinition: definition);
        return describer.GetOutputSchema(input);
    }

    private sealed class NoInput
    {
    }

    private sealed class OutputRow
    {
        public float[] Score { get; set; } = [];

        public uint PredictedLabel { get; set; }

        public float[] Features { get; set; } = [];

        public float[] HeatMap { get; set; } = [];
    }
}
