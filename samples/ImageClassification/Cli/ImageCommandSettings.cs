using System.ComponentModel;
using ImageClassification.Data;
using Spectre.Console.Cli;

namespace ImageClassification.Cli;

/// <summary>The option of every command that reads image files.</summary>
internal abstract class ImageCommandSettings : CommandSettings
{
    /// <summary><c>--bad-images skip|fail</c>.</summary>
    [CommandOption("--bad-images <POLICY>")]
    [Description("skip | fail: a file with an image extension that does not decode is skipped and listed, or stops the run before any work")]
    [DefaultValue("skip")]
    [TypeConverter(typeof(ChoiceConverter<BadImagePolicy>))]
    public BadImagePolicy BadImages { get; init; } = BadImagePolicy.Skip;
}
