using System.Text.Json;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>
/// What our loader needs, beyond the ONNX graph, to rebuild the batched transformer from a saved
/// zip; stored as JSON in the saved ONNX model's metadata under <see cref="MetadataKey"/>.
/// </summary>
internal sealed record SavedScoringSettings(
    string InputColumnName,
    string ScoreColumnName,
    string PredictedLabelColumnName,
    string? FeaturesColumnName,
    int BatchSize,
    bool RejectAllZeroPixels,
    string? ImageColumnName = null)
{
    public const string MetadataKey = "resnetml.saved_scoring";

    public ScoringColumns Columns => new(InputColumnName, ScoreColumnName, PredictedLabelColumnName, FeaturesColumnName, ImageColumnName);

    public string ToJson() => JsonSerializer.Serialize(this);

    public static SavedScoringSettings FromJson(string json) =>
        JsonSerializer.Deserialize<SavedScoringSettings>(json)
        ?? throw new InvalidDataException($"Metadata '{MetadataKey}' is empty.");
}
