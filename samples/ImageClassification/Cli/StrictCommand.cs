using Spectre.Console;
using Spectre.Console.Cli;

namespace ImageClassification.Cli;

/// <summary>A command that rejects any option it does not define, and anything after <c>--</c>.</summary>
/// <remarks>
/// Spectre's own strict parsing does reject unknown options, but it retries a failed parse with its default-command placeholder
/// inserted, so that <c>train --data</c> (no value) ran with the data folder "__default_command". The relaxed parser reports
/// the missing value; this reports what it left over.
/// </remarks>
internal abstract class StrictCommand<TSettings> : Command<TSettings>
    where TSettings : CommandSettings
{
    public override ValidationResult Validate(CommandContext context, TSettings settings)
    {
        if (context.Remaining.Parsed.FirstOrDefault() is { } option)
        {
            return ValidationResult.Error($"Unknown option '{option.Key}' for '{context.Name}'.");
        }

        return context.Remaining.Raw.Count > 0
            ? ValidationResult.Error($"Unexpected argument(s) for '{context.Name}': {string.Join(' ', context.Remaining.Raw)}.")
            : ValidationResult.Success();
    }
}
