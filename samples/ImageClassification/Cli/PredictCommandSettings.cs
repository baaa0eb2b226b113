using System.ComponentModel;
using ImageClassification.Commands;
using ImageClassification.Reporting;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ImageClassification.Cli;

/// <summary>The arguments of <c>predict &lt;image|folder&gt;</c>.</summary>
internal sealed class PredictCommandSettings : SavedModelCommandSettings
{
    [CommandArgument(0, "<IMAGE_OR_FOLDER>")]
    [Description("one image file, or a folder: every image under it")]
    public string Images { get; init; } = string.Empty;

    [CommandOption("--format <FORMAT>")]
    [Description("table | csv | json (csv and json on stdout, notes on stderr)")]
    [DefaultValue("table")]
    [TypeConverter(typeof(ChoiceConverter<PredictionFormat>))]
    public PredictionFormat Format { get; init; } = PredictionFormat.Table;

    [CommandOption("--top-k <K>")]
    [Description(CommandDefaults.TopKDescription)]
    [DefaultValue(CommandDefaults.TopK)]
    [TypeConverter(typeof(IntegerConverter))]
    public int TopK { get; init; } = CommandDefaults.TopK;

    public override ValidationResult Validate() => OptionRules.InRange("--top-k", TopK, 1, CommandDefaults.MaxTopK);
}
