namespace ImageClassification.Reporting;

/// <summary>One scored image: the winning label and the <c>k</c> best labels with their probabilities.</summary>
internal sealed record Prediction(string ImagePath, string PredictedLabel, float Score, IReadOnlyList<LabelScore> Top, string? ActualLabel = null);

/// <summary>A label and its probability.</summary>
internal sealed record LabelScore(string Label, float Score);
