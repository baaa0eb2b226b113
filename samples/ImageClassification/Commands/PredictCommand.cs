using ImageClassification.Cli;
using ImageClassification.Data;
using ImageClassification.Model;
using ImageClassification.Reporting;
using Microsoft.ML;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ImageClassification.Commands;

/// <summary><c>predict &lt;image|folder&gt;</c>: classifies one image or every image under a folder.</summary>
internal sealed class PredictCommand(IAnsiConsole console) : StrictCommand<PredictCommandSettings>
{
    public override int Execute(CommandContext context, PredictCommandSettings options, CancellationToken cancellationToken) => Run(options);

    /// <summary>Runs <c>predict</c>; returns the exit code. CSV and JSON go to the console's own writer, unformatted.</summary>
    public int Run(PredictCommandSettings options)
    {
        var modelPath = options.ModelPath();
        var format = options.Format;
        var (images, skipped) = ImageFiles.Collect(options.Images, options.BadImages);

        // CSV and JSON go to stdout for piping; notes go to stderr so they do not corrupt it.
        var notes = format == PredictionFormat.Table ? console : AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        SkippedReport.Write(notes, skipped);

        var ml = new MLContext();
        var model = SavedModel.Load(ml, modelPath);
        using var session = model as IDisposable;
        var predictions = PredictionReader.Predict(ml, model, images, options.TopK);
        PredictionWriter.Write(predictions, format, console.Profile.Out.Writer, console);
        return 0;
    }
}
