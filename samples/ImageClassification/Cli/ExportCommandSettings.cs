using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ImageClassification.Cli;

/// <summary>The options of <c>export</c>.</summary>
internal sealed class ExportCommandSettings : SavedModelCommandSettings
{
    [CommandOption("--output <FILE>")]
    [Description("where the ONNX file goes (default: next to the model, model.onnx)")]
    public string? Output { get; init; }

    [CommandOption("--triton <FOLDER>")]
    [Description("instead, write a Triton model repository there (<folder>/resnet: config.pbtxt, 1/model.onnx, labels.txt)")]
    public string? Triton { get; init; }

    [CommandOption("--int8")]
    [Description("also write model.int8.onnx and model.int8.zip next to the model: INT8, calibrated on 200 training images (evaluate and predict take --model model.int8.zip)")]
    public bool Int8 { get; init; }

    [CommandOption("--data <FOLDER>")]
    [Description("calibration images for --int8 (default: the embedded sample's training images)")]
    public string? Data { get; init; }

    public override ValidationResult Validate() =>
        Triton is not null && (Int8 || Output is not null)
            ? ValidationResult.Error($"Option '--triton' writes a repository instead of the ONNX file: it does not combine with {(Int8 ? "'--int8'" : "'--output'")}.")
            : ValidationResult.Success();
}
