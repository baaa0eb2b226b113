namespace ImageClassification.Cli;

/// <summary>The command line asks for something the app cannot do; the message says what would work.</summary>
internal sealed class UsageException(string message) : Exception(message);
