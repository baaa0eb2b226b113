namespace ImageClassification.Cli;

/// <summary>
/// A command-line value that is not of its option's kind, thrown by <see cref="IntegerConverter"/>,
/// <see cref="NumberConverter"/> and <see cref="ChoiceConverter{TEnum}"/>.
/// </summary>
/// <remarks>
/// Spectre.Console.Cli wraps a converter's exception in one that names the value and the CLR type ("Failed to convert
/// 'two' to Nullable`1."), not the option; <see cref="Describe"/> finds the option on the command line instead.
/// </remarks>
internal sealed class OptionValueException(string value, string accepted) : FormatException($"expects {accepted}, got '{value}'")
{
    /// <summary>The value as given.</summary>
    public string Value { get; } = value;

    /// <summary>"Option '--epochs' expects an integer, got 'two'.", in the words of <see cref="OptionRules"/>.</summary>
    public string Describe(IReadOnlyList<string> args) => OptionOf(args) is { } option ? $"Option '{option}' {Message}." : $"An option {Message}.";

    // "--epochs two", "--epochs=two" and "--epochs:two" are the spellings the parser accepts.
    private string? OptionOf(IReadOnlyList<string> args)
    {
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] == Value && i > 0 && args[i - 1].StartsWith('-'))
            {
                return args[i - 1];
            }

            if (args[i].StartsWith('-') && args[i].Length > Value.Length + 1 && args[i].EndsWith(Value, StringComparison.Ordinal)
                && args[i][^(Value.Length + 1)] is '=' or ':')
            {
                return args[i][..^(Value.Length + 1)];
            }
        }

        return null;
    }
}
