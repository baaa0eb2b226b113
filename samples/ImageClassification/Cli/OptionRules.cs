using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ImageClassification.Cli;

/// <summary>
/// The checks the settings classes share, with one wording for every option: the option, what it accepts, what it got
/// ("Option '--epochs' expects an integer 1..1000, got '0'."). Values of the wrong kind never get here: see
/// <see cref="OptionValueException"/>.
/// </summary>
internal static class OptionRules
{
    /// <summary>Success when <paramref name="value"/> is absent or in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static ValidationResult InRange(string option, int? value, int min, int max = int.MaxValue) =>
        value is not { } given || (given >= min && given <= max)
            ? ValidationResult.Success()
            : Expected(option, max == int.MaxValue ? $"an integer >= {min}" : $"an integer {min}..{max}", given);

    /// <summary>Success when <paramref name="value"/> is absent or a positive finite number.</summary>
    public static ValidationResult Positive(string option, double? value) =>
        value is not { } given || (given > 0 && double.IsFinite(given))
            ? ValidationResult.Success()
            : Expected(option, "a positive number", given);

    /// <summary>The error for an option whose value is not what it accepts.</summary>
    public static ValidationResult Expected(string option, string accepted, object given) =>
        ValidationResult.Error($"Option '{option}' expects {accepted}, got '{Convert.ToString(given, CultureInfo.InvariantCulture)}'.");

    /// <summary>The first failure of <paramref name="results"/>, or success.</summary>
    public static ValidationResult All(params ValidationResult[] results) =>
        results.FirstOrDefault(r => !r.Successful) ?? ValidationResult.Success();
}
