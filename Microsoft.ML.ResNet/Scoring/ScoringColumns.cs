namespace Microsoft.ML.ResNet.Scoring;

/// <summary>The column names a classifier reads and writes.</summary>
/// <param name="Input">The pixel vector (ExtractPixels' output).</param>
/// <param name="Score">Probabilities, one slot per label.</param>
/// <param name="PredictedLabel">The argmax as a key whose key values are the labels.</param>
/// <param name="Features">The pooled embedding, or null to leave it out.</param>
/// <param name="Image">
/// The upstream MLImage column the pixels were extracted from (set by ResNet34ClassifyImages), or null. An
/// all-zero pixel row whose image is missing (LoadImages' result for an empty path) is then an error, while a
/// genuinely black image scores.
/// </param>
/// <param name="HeatMap">The class activation map column (h x w values a row), or null to leave it out.</param>
/// <param name="HeatMapClass">The label whose map <paramref name="HeatMap"/> holds; null for each row's predicted label.</param>
internal sealed record ScoringColumns(string Input, string Score, string PredictedLabel, string? Features, string? Image = null, string? HeatMap = null, string? HeatMapClass = null)
{
    /// <summary>The output columns in schema order, after the input's columns.</summary>
    public IReadOnlyList<ScoringOutput> Outputs =>
        new[] { ScoringOutput.Score, ScoringOutput.PredictedLabel }
            .Concat(Features is null ? [] : [ScoringOutput.Features])
            .Concat(HeatMap is null ? [] : [ScoringOutput.HeatMap])
            .ToArray();
}

/// <summary>What an output column of the classifier holds.</summary>
internal enum ScoringOutput
{
    Score,
    PredictedLabel,
    Features,
    HeatMap,
}
