using ImageClassification.Cli;
using ImageClassification.Data;
using ImageClassification.Model;
using ImageClassification.Reporting;
using Microsoft.ML;
using Spectre.Console;

namespace ImageClassification.Commands;

/// <summary><c>predict &lt;image|folder&gt;</c>: classifies one image or every image under a folder.</summary>
internal static class PredictCommand
{
    public static int Run(CommandLineArgs args, IAnsiConsole console, TextWriter output)
    {
        if (args.Positionals.Count != 1)
        {
            throw new UsageException($"'predict' needs exactly one image file or folder, got {args.Positionals.Count} argument(s).");
        }

        var modelPath = CommandDefaults.ModelPath(args);
        var format = Enum.Parse<PredictionFormat>(args.GetChoice("format", "table", "table", "csv", "json"), ignoreCase: true);
        var (images, skipped) = ImageFiles.Collect(args.Positionals[0], CommandDefaults.BadImages(args));

        // CSV and JSON go to stdout for piping; notes go to stderr so they do not corrupt it.
        var notes = format == PredictionFormat.Table ? console : AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        SkippedReport.Write(notes, skipped);

        var ml = new MLContext();
        var model = SavedModel.Load(ml, modelPath);
        using var session = model as IDisposable;
        var predictions = PredictionReader.Predict(ml, model, images, CommandDefaults.TopKOption(args));
        PredictionWriter.Write(predictions, format, output, console);
        return 0;
    }
}
