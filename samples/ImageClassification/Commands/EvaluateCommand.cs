using ImageClassification.Cli;
using ImageClassification.Data;
using ImageClassification.Model;
using ImageClassification.Reporting;
using Microsoft.ML;
using Spectre.Console;

namespace ImageClassification.Commands;

/// <summary><c>evaluate</c>: metrics of a saved model on a labelled folder (default: the embedded test set).</summary>
internal static class EvaluateCommand
{
    public static int Run(CommandLineArgs args, IAnsiConsole console)
    {
        var modelPath = CommandDefaults.ModelPath(args);
        var topK = CommandDefaults.TopKOption(args);
        var folder = args.GetString("data") ?? Path.Combine(TrainTestData.EmbeddedSampleFolder, "test");
        var data = ImageFolderDataset.Load(folder, CommandDefaults.BadImages(args), minLabels: 1);
        console.MarkupLine($"[bold]Data[/] {Markup.Escape($"{data.Root}: {data.Images.Count} images, {data.Labels.Count} labels")}");
        SkippedReport.Write(console, data.Skipped);

        var ml = new MLContext();
        var model = SavedModel.Load(ml, modelPath);
        using var session = model as IDisposable;
        var scored = model.Transform(ml.Data.LoadFromEnumerable(data.Images));
        var metrics = ml.MulticlassClassification.Evaluate(scored, ImagePipeline.LabelColumn, ImagePipeline.ScoreColumn, ImagePipeline.PredictedLabelColumn, topKPredictionCount: topK);
        EvaluationReport.Write(console, metrics, PredictionReader.ClassNames(scored.Schema), topK);
        return 0;
    }
}
