using System.Diagnostics;
using ImageClassification.Cli;
using ImageClassification.Data;
using ImageClassification.Model;
using ImageClassification.Reporting;
using ImageClassification.Training;
using Microsoft.ML;
using Microsoft.ML.ResNet;
using Spectre.Console;

namespace ImageClassification.Commands;

/// <summary><c>train</c>: the whole Model Builder flow: data, training with progress, evaluation, save, export, a few predictions.</summary>
internal static class TrainCommand
{
    private const int SamplePredictions = 8;

    // The library's checkpoint state file; its presence means a run to resume.
    private const string CheckpointFileName = "checkpoint.json";

    // The seed's network pools its 7x7 final maps with a fixed window: 224 / 32 = 7.
    private const int SeedImageSize = 224;

    /// <summary>Runs <c>train</c>; returns the exit code.</summary>
    /// <remarks>
    /// Nothing finished is lost: epochs are checkpointed into <c>&lt;output&gt;/checkpoints</c>, so running the same command
    /// again after an interruption (Ctrl+C, a crash, a reboot) resumes after the last finished epoch; <c>model.zip</c> and
    /// <c>model.onnx</c> are written as soon as training ends, before evaluation, and a later failure says where they are.
    /// </remarks>
    public static int Run(CommandLineArgs args, IAnsiConsole console)
    {
        var clock = Stopwatch.StartNew();
        var output = Path.GetFullPath(args.GetString("output") ?? CommandDefaults.OutputFolder);
        var checkpoints = Path.Combine(output, CommandDefaults.CheckpointFolderName);
        var settings = ReadSettings(args) with { CheckpointFolder = checkpoints };
        var variant = ReadVariant(args);
        var topK = CommandDefaults.TopKOption(args);
        var dataFolder = args.GetString("data") ?? TrainTestData.EmbeddedSampleFolder;

        var data = TrainTestData.Load(dataFolder, args.GetString("test-data"), CommandDefaults.BadImages(args));
        settings = settings.WithImageSizeFor(() => ImageSizes.MedianShortSide(data.Train.Select(image => image.ImagePath).ToList()));
        console.MarkupLine($"[bold]Data[/] {Markup.Escape(data.Description)}");
        SkippedReport.Write(console, data.Skipped);
        console.MarkupLine(Markup.Escape(
            $"Training {settings.Architecture}{(variant == ResNetVariant.ProjectionShortcuts ? " (the seed's wiring)" : string.Empty)} on {settings.Size}x{settings.Size} images, {settings.Epochs} epoch(s), batch {settings.BatchSize}, {DescribeStart(settings)}"));
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

    /// <summary>
    /// The recipe: ImageNet fine-tuning when the featurizer package's network is beside the sample (it is, through the
    /// package reference) and neither <c>--from-scratch</c> nor <c>--weights</c> says otherwise; options override its values.
    /// </summary>
    internal static TrainSettings ReadSettings(CommandLineArgs args)
    {
        var weights = args.GetString("weights");
        if (weights is not null && !File.Exists(weights))
        {
            throw new UsageException($"Weights file '{Path.GetFullPath(weights)}' does not exist.");
        }

        if (weights is not null && args.Has("from-scratch"))
        {
            throw new UsageException("Options '--weights' and '--from-scratch' contradict each other: give one.");
        }

        // The seed's wiring has no ImageNet weights to fine-tune and its fixed 7x7 pool takes 224x224 images only.
        var seed = ReadVariant(args) == ResNetVariant.ProjectionShortcuts;
        var defaults = seed || args.Has("from-scratch") || (weights is null && ResNetTrainerOptions.FeaturizerPackageNetworkPath is null)
            ? TrainSettings.FromScratch
            : TrainSettings.FineTuned;
        int? imageSize = args.Has("image-size") ? args.GetInt("image-size", 0, min: 32, max: 1024) : seed ? SeedImageSize : defaults.ImageSize;
        if (seed && imageSize != SeedImageSize)
        {
            throw new UsageException($"Option '--variant seed' trains on {SeedImageSize}x{SeedImageSize} images only (its fixed 7x7 pool), got '--image-size {imageSize}'.");
        }

        return defaults with
        {
            Architecture = ParseArchitecture(args.GetString("arch")) ?? defaults.Architecture,
            Epochs = args.GetInt("epochs", defaults.Epochs, min: 1, max: 1000),
            ImageSize = imageSize,
            BatchSize = args.GetInt("batch-size", defaults.BatchSize, min: 2, max: 1024),
            LearningRate = args.GetDouble("learning-rate") ?? defaults.LearningRate,
            WeightsPath = weights is null ? null : Path.GetFullPath(weights),
            Seed = args.GetInt("seed", defaults.Seed, min: 0),
        };
    }

    /// <summary><c>--variant</c>: torchvision's wiring (the default) or the seed project's.</summary>
    internal static ResNetVariant ReadVariant(CommandLineArgs args) =>
        args.GetChoice("variant", "torchvision", "torchvision", "seed") == "seed" ? ResNetVariant.ProjectionShortcuts : ResNetVariant.TorchVision;

    /// <summary>What the run starts from, in words.</summary>
    private static string DescribeStart(TrainSettings settings) =>
        settings.WeightsPath is { } path ? $"fine-tuning the weights in {path}"
        : settings.StartingWeights == ResNetStartingWeights.ImageNet
            ? $"fine-tuning ImageNet weights (the ResNet of the Microsoft.ML.DnnImageFeaturizer.ResNet18 package, basic blocks 2/2/2/3); --from-scratch trains from random weights"
            : "from scratch (random weights)";

    /// <summary>Accepts "resnet34", "ResNet34", "34".</summary>
    internal static ResNetArchitecture? ParseArchitecture(string? text)
    {
        if (text is null)
        {
            return null;
        }

        var name = text.StartsWith("resnet", StringComparison.OrdinalIgnoreCase) ? text : "ResNet" + text;
        if (Enum.TryParse<ResNetArchitecture>(name, ignoreCase: true, out var architecture) && Enum.IsDefined(architecture))
        {
            return architecture;
        }

        throw new UsageException($"Option '--arch' expects one of {string.Join(", ", Enum.GetNames<ResNetArchitecture>().Select(n => n.ToLowerInvariant()))}, got '{text}'.");
    }
}
