using System.Text.Json;
using System.Text.Json.Serialization;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>
/// What our loader needs, beyond the ONNX graph, to rebuild the batched transformer from a saved
/// zip; stored as JSON in the saved ONNX model's metadata under <see cref="MetadataKey"/>.
/// </summary>
/// <remarks>
/// Fields added after the first release have defaults, so zips written before them still load (as transformers
/// without the feature); unknown fields are ignored, so earlier versions of the library read later zips. The heat-map
/// fields are left out of the JSON when null.
/// </remarks>
/// <param name="InputColumnName">The pixel column (see <see cref="ScoringColumns.Input"/>).</param>
/// <param name="ScoreColumnName">The probabilities column.</param>
/// <param name="PredictedLabelColumnName">The predicted label column.</param>
/// <param name="FeaturesColumnName">The embedding column, or null.</param>
/// <param name="BatchSize">Rows per ONNX Runtime run.</param>
/// <param name="RejectAllZeroPixels">Whether all-zero pixel rows are refused.</param>
/// <param name="ImageColumnName">The upstream image column, or null (see <see cref="ScoringColumns.Image"/>).</param>
/// <param name="HeatMapColumnName">The class activation map column, or null (see <see cref="ScoringColumns.HeatMap"/>).</param>
/// <param name="HeatMapClass">The label whose map that column holds; null for each row's predicted label.</param>
internal sealed record SavedScoringSettings(
    string InputColumnName,
    string ScoreColumnName,
    string PredictedLabelColumnName,
    string? FeaturesColumnName,
    int BatchSize,
    bool RejectAllZeroPixels,
    string? ImageColumnName = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? HeatMapColumnName = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? HeatMapClass = null)
{
    public const string MetadataKey = "resnetml.saved_scoring";

    /// <summary>The columns these settings give back. Not written (saves before the heat-map fields wrote it, a copy of the
    /// fields above that reading ignores).</summary>
    [JsonIgnore]
    public ScoringColumns Columns => new(InputColumnName, ScoreColumnName, PredictedLabelColumnName, FeaturesColumnName, ImageColumnName, HeatMapColumnName, HeatMapClass);

    /// <summary>The settings that give <paramref name="columns"/> back.</summary>
    public static SavedScoringSettings Of(ScoringColumns columns, int batchSize, bool rejectAllZeroPixels) =>
        new(columns.Input, columns.Score, columns.PredictedLabel, columns.Features, batchSize, rejectAllZeroPixels, columns.Image, columns.HeatMap, columns.HeatMapClass);

    public string ToJson() => JsonSerializer.Serialize(this);

    public static SavedScoringSettings FromJson(string json) =>
        JsonSerializer.Deserialize<SavedScoringSettings>(json)
        ?? throw new InvalidDataException($"Metadata '{MetadataKey}' is empty.");
}
