namespace Microsoft.ML.ResNet.Scoring;

/// <summary>What the batch loop gives back for one image: its best labels, best first.</summary>
internal sealed record ScoredImage(ResNetLabelScore[] Top);
