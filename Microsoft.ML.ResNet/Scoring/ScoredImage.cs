namespace Microsoft.ML.ResNet.Scoring;

/// <summary>What the batch loop gives back for one image: its best labels, best first, and the predicted class's
/// activation map (row-major, the session's heat-map height x width) when heat maps were asked for.</summary>
internal sealed record ScoredImage(ResNetLabelScore[] Top, float[]? HeatMap);
