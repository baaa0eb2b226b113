using System.Diagnostics;
using ImageClassification.Cli;
using ImageClassification.Data;
using ImageClassification.Model;
using ImageClassification.Reporting;
using ImageClassification.Training;
using Microsoft.ML;
using Microsoft.ML.ResNet;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ImageClassification.Commands;

/// <summary><c>train</c>: the whole Model Builder flow: data, training with progress, evaluation, save, export, a few predictions.</summary>
internal sealed class TrainCommand(IAnsiConsole console) : StrictCommand<TrainCommandSettings>
{
    private const int SamplePredictions = 8;

    // The library's checkpoint state file; its presence means a run to resume.
    private const string CheckpointFileName = "checkpoint.json";

    /// <summary>Runs <c>train</c>; returns the exit code.</summary>
    /// <remarks>
    /// Nothing finished is lost: epochs are checkpointed into <c>&lt;output&gt;/checkpoints</c>, so running the same command
    /// again after an interruption (Ctrl+C, a crash, a reboot) resumes after the last finished epoch; <c>model.zip</c> and
    /// <c>model.onnx</c> are written as soon as training ends, before evaluation, and a later failure says where they are.
    /// </remarks>
    public override int Execute(CommandContext context, TrainCommandSettings options, CancellationToken cancellationToken) => Run(options);

    /// <inheritdoc cref="Execute"/>
    public int Run(TrainCommandSettings options)
    {
        var clock = Stopwatch.StartNew();
        var output = Path.GetFullPath(options.Output);
        var checkpoints = Path.Combine(output, CommandDefaults.CheckpointFolderName);
        var settings = options.ToRecipe() with { CheckpointFolder = checkpoints };
        var variant = options.Wiring;
        var topK = options.TopK;
        var dataFolder = options.Data ?? TrainTestData.EmbeddedSampleFolder;

        var data = TrainTestData.Load(dataFolder, options.TestData, options.BadImages);
        settings = settings.ForImages(() => ImageSizes.MedianShortSide(data.Train.Select(image => image.ImagePath).ToList()));
        console.MarkupLine($"[bold]Data[/] {Markup.Escape(data.Description)}");
        SkippedReport.Write(console, data.Skipped);
        var (epochs, frozenStages) = settings.Passes;
        console.MarkupLine(Markup.Escape(
            $"Training {settings.Architecture}{(variant == ResNetVariant.ProjectionShortcuts ? " (the seed's wiring)" : string.Empty)} on {settings.Size}x{settings.Size} images, {epochs} epoch(s) ({TrainSettings.LearningStages(frozenStages)} learn), batch {settings.BatchSize}, {DescribeStart(settings)}"));
        if (File.Exists(Path.Combine(checkpoints, CheckpointFileName)))
        {
            console.MarkupLine(Markup.Escape(
                $"Resuming from the checkpoint in {checkpoints} (an earlier run of this command was interrupted); delete that folder to start over."));
        }

        TrainTestData.RequireImagePaths(data.Train, "training");
        TrainTestData.RequireImagePaths(data.Test, "test");
        var ml = new MLContext(seed: settings.Seed);
        var trainView = ml.Data.LoadFromEnumerable(data.Train);
        var model = TrainingProgressView.Run($"{settings.Architecture}", progress =>
        {
            var pipeline = ImagePipeline.LoadPixels(ml, settings.Size)
                .Append(ImagePipeline.MapLabelToKey(ml))
                .Append(ResNetTraining.Trainer(ml, settings, variant, progress))
                .Append(ml.Transforms.Conversion.MapKeyToValue(ImagePipeline.PredictedLabelColumn));
            return pipeline.Fit(trainView);
        });
        using var session = model as IDisposable;  // the chain owns the ONNX Runtime session
        console.MarkupLine($"Trained in {clock.Elapsed:mm\\:ss}.");

        // Saved before anything else can fail: a finished training run is the expensive part.
        Directory.CreateDirectory(output);
        var modelPath = Path.Combine(output, CommandDefaults.ModelFileName);
        ml.Model.SaveAtomically(model, trainView.Schema, modelPath);
        console.MarkupLine($"Saved [bold]{Markup.Escape(modelPath)}[/]");
        var onnxPath = Path.Combine(output, CommandDefaults.OnnxFileName);
        SavedModel.Classifier(model, "the trained pipeline").SaveOnnx(onnxPath);
        console.MarkupLine($"Saved [bold]{Markup.Escape(onnxPath)}[/] ({Markup.Escape(OnnxFileSummary.Describe(onnxPath))})");

        // The saved model is the result now; the checkpoints would make the next run resume a finished run.
        if (Directory.Exists(checkpoints))
        {
            Directory.Delete(checkpoints, recursive: true);
        }

        try
        {
            console.Write(new Rule("Evaluation on held-out images").LeftJustified());
            var scored = model.Transform(ml.Data.LoadFromEnumerable(data.Test));
            var metrics = ml.MulticlassClassification.Evaluate(scored, ImagePipeline.LabelColumn, ImagePipeline.ScoreColumn, ImagePipeline.PredictedLabelColumn, topKPredictionCount: topK);
            EvaluationReport.Write(console, metrics, PredictionReader.ClassNames(scored.Schema), topK);

            console.Write(new Rule("A few held-out images").LeftJustified());
            var samples = data.Test.GroupBy(i => i.Label).Select(g => g.First()).Take(SamplePredictions).ToList();
            console.Write(PredictionWriter.ToTable(PredictionReader.Predict(ml, model, samples, topK, withActual: true)));
        }
        catch (Exception)
        {
            console.MarkupLine(Markup.Escape(
                $"Training finished and the model is saved: {modelPath} and {onnxPath}. What came after failed (below); evaluate the model again with: evaluate --model {modelPath} --data <labelled folder>"));
            throw;
        }

        console.MarkupLine($"Done in {clock.Elapsed:mm\\:ss}. Next: [bold]predict <image|folder> --model {Markup.Escape(modelPath)}[/]");
        return 0;
    }

    /// <summary>What the run starts from, in words.</summary>
    private static string DescribeStart(TrainSettings settings) =>
        settings.WeightsPath is { } path ? $"fine-tuning the weights in {path}"
        : settings.StartingWeights == ResNetStartingWeights.ImageNet
            ? $"fine-tuning ImageNet weights (the ResNet of the Microsoft.ML.DnnImageFeaturizer.ResNet18 package, basic blocks 2/2/2/3); --from-scratch trains from random weights"
            : "from scratch (random weights)";
}
