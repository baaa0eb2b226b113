namespace ImageClassification.Data;

/// <summary>An image file left out of a data set, and why.</summary>
internal sealed record SkippedImage(string Path, string Reason);
