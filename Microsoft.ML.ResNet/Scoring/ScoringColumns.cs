namespace Microsoft.ML.ResNet.Scoring;

/// <summary>The column names a classifier reads and writes.</summary>
/// <param name="Input">The pixel vector (ExtractPixels' output).</param>
/// <param name="Score">Probabilities, one slot per label.</param>
/// <param name="PredictedLabel">The argmax as a key whose key values are the labels.</param>
/// <param name="Features">The pooled embedding, or null to leave it out.</param>
internal sealed record ScoringColumns(string Input, string Score, string PredictedLabel, string? Features);
