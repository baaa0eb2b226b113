using System.ComponentModel;
using ImageClassification.Commands;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ImageClassification.Cli;

/// <summary>The options of <c>evaluate</c>.</summary>
internal sealed class EvaluateCommandSettings : SavedModelCommandSettings
{
    [CommandOption("--data <FOLDER>")]
    [Description("labelled images, one sub-folder per label (default: the embedded sample's test set)")]
    public string? Data { get; init; }

    [CommandOption("--top-k <K>")]
    [Description(CommandDefaults.TopKDescription)]
    [DefaultValue(CommandDefaults.TopK)]
    [TypeConverter(typeof(IntegerConverter))]
    public int TopK { get; init; } = CommandDefaults.TopK;

    public override ValidationResult Validate() => OptionRules.InRange("--top-k", TopK, 1, CommandDefaults.MaxTopK);
}
