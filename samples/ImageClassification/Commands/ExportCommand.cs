using ImageClassification.Cli;
using ImageClassification.Model;
using Microsoft.ML;
using Spectre.Console;

namespace ImageClassification.Commands;

/// <summary><c>export</c>: writes the ONNX file of a saved model, for ONNX Runtime in any language.</summary>
internal static class ExportCommand
{
    public static int Run(CommandLineArgs args, IAnsiConsole console)
    {
        var modelPath = CommandDefaults.ModelPath(args);
        var onnxPath = Path.GetFullPath(args.GetString("output") ?? Path.ChangeExtension(modelPath, ".onnx"));
        var ml = new MLContext();
        var model = ml.Model.Load(modelPath, out _);
        if (!ResNetTraining.TryExportOnnx(ml, model, onnxPath, out var problem))
        {
            console.MarkupLine($"[red]Could not export '{Markup.Escape(modelPath)}':[/] {Markup.Escape(problem ?? "unknown reason")}");
            return 1;
        }

        console.MarkupLine($"Saved [bold]{Markup.Escape(onnxPath)}[/]");
        return 0;
    }
}
