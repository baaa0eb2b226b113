namespace Microsoft.ML.ResNet;

/// <summary>One class of a prediction and its probability.</summary>
/// <param name="Label">The class label.</param>
/// <param name="Score">Its probability, 0 to 1.</param>
public sealed record ResNetLabelScore(string Label, float Score);
