using ImageClassification.Cli;
using ImageClassification.Data;
using ImageClassification.Model;
using Microsoft.ML;
using Microsoft.ML.ResNet;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ImageClassification.Commands;

/// <summary><c>export</c>: writes the ONNX file of a saved model, for ONNX Runtime in any language, or with
/// <c>--triton</c> a Triton Inference Server model repository around it; with <c>--int8</c> also an INT8 model
/// (.int8.onnx and .int8.zip) calibrated on training images.</summary>
internal sealed class ExportCommand(IAnsiConsole console) : StrictCommand<ExportCommandSettings>
{
    public override int Execute(CommandContext context, ExportCommandSettings options, CancellationToken cancellationToken) => Run(options);

    /// <summary>Runs <c>export</c>; returns the exit code.</summary>
    public int Run(ExportCommandSettings options)
    {
        var modelPath = options.ModelPath();
        var repository = options.Triton;
        var onnxPath = Path.GetFullPath(options.Output ?? Path.ChangeExtension(modelPath, ".onnx"));
        var ml = new MLContext();
        var model = SavedModel.Load(ml, modelPath);
        using var session = model as IDisposable;  // the chain owns the ONNX Runtime session
        var classifier = SavedModel.Classifier(model, modelPath);
        if (repository is not null)
        {
            WriteTriton(classifier, repository);
            return 0;
        }

        classifier.SaveOnnx(onnxPath);
        console.MarkupLine($"Saved [bold]{Markup.Escape(onnxPath)}[/] ({Markup.Escape(OnnxFileSummary.Describe(onnxPath))})");
        if (options.Int8)
        {
            Int8Export.Run(ml, model, classifier, modelPath, onnxPath, options, console);
        }

        return 0;
    }

    private void WriteTriton(ResNetClassifierTransformer classifier, string repository)
    {
        var folder = classifier.SaveTritonRepository(repository);
        console.MarkupLine($"Saved the Triton model [bold]{Markup.Escape(folder)}[/] (config.pbtxt, 1/model.onnx, labels.txt)");
        console.MarkupLine($"Serve it with: [bold]tritonserver --model-repository={Markup.Escape(Path.GetFullPath(repository))}[/] (see the README's \"Serve with Triton\")");
    }
}
