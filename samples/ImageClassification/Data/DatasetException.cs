namespace ImageClassification.Data;

/// <summary>A data folder that cannot be used as given; the message names the path and what was expected.</summary>
internal sealed class DatasetException(string message) : Exception(message);
