using ImageClassification.Cli;
using ImageClassification.Data;
using ImageClassification.Model;
using ImageClassification.Reporting;
using Microsoft.ML;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ImageClassification.Commands;

/// <summary><c>evaluate</c>: metrics of a saved model on a labelled folder (default: the embedded test set).</summary>
internal sealed class EvaluateCommand(IAnsiConsole console) : StrictCommand<EvaluateCommandSettings>
{
    public override int Execute(CommandContext context, EvaluateCommandSettings options, CancellationToken cancellationToken) => Run(options);

    /// <summary>Runs <c>evaluate</c>; returns the exit code.</summary>
    public int Run(EvaluateCommandSettings options)
    {
        var modelPath = options.ModelPath();
        var topK = options.TopK;
        var folder = options.Data ?? Path.Combine(TrainTestData.EmbeddedSampleFolder, "test");
        var data = ImageFolderDataset.Load(folder, options.BadImages, minLabels: 1);
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
