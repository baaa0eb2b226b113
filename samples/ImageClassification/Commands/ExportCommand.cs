using ImageClassification.Cli;
using ImageClassification.Model;
using Microsoft.ML;
using Microsoft.ML.ResNet;
using Spectre.Console;

namespace ImageClassification.Commands;

/// <summary><c>export</c>: writes the ONNX file of a saved model, for ONNX Runtime in any language, or with
/// <c>--triton</c> a Triton Inference Server model repository around it.</summary>
internal static class ExportCommand
{
    public static int Run(CommandLineArgs args, IAnsiConsole console)
    {
        var modelPath = CommandDefaults.ModelPath(args);
        var repository = args.GetString("triton");
        var onnxPath = Path.GetFullPath(args.GetString("output") ?? Path.ChangeExtension(modelPath, ".onnx"));
        var ml = new MLContext();
        var model = SavedModel.Load(ml, modelPath);
        using var session = model as IDisposable;  // the chain owns the ONNX Runtime session
        var classifier = SavedModel.Classifier(model, modelPath);
        if (repository is not null)
        {
            WriteTriton(classifier, repository, console);
            return 0;
        }

        classifier.SaveOnnx(onnxPath);
        console.MarkupLine($"Saved [bold]{Markup.Escape(onnxPath)}[/] ({Markup.Escape(OnnxFileSummary.Describe(onnxPath))})");
        return 0;
    }

    private static void WriteTriton(ResNetClassifierTransformer classifier, string repository, IAnsiConsole console)
    {
        var folder = classifier.SaveTritonRepository(repository);
        console.MarkupLine($"Saved the Triton model [bold]{Markup.Escape(folder)}[/] (config.pbtxt, 1/model.onnx, labels.txt)");
        console.MarkupLine($"Serve it with: [bold]tritonserver --model-repository={Markup.Escape(Path.GetFullPath(repository))}[/] (see the README's \"Serve with Triton\")");
    }
}
