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
        var model = SavedModel.Load(ml, modelPath);
        using var session = model as IDisposable;  // the chain owns the ONNX Runtime session
        SavedModel.Classifier(model, modelPath).SaveOnnx(onnxPath);
        console.MarkupLine($"Saved [bold]{Markup.Escape(onnxPath)}[/] ({Markup.Escape(OnnxFileSummary.Describe(onnxPath))})");
        return 0;
    }
}
