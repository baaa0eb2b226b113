using ImageClassification.Commands;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ImageClassification.Cli;

/// <summary>The command line: four commands, <c>train</c> also the default, parsed and validated by Spectre.Console.Cli.</summary>
internal static class SampleApp
{
    private const string Train = "train";

    /// <summary>Parses <paramref name="args"/>, runs the command, and returns the process's exit code (see <see cref="ExitCodes"/>).</summary>
    /// <param name="args">The command line; none at all trains on the embedded sample with every default.</param>
    /// <param name="console">Where commands and <c>--help</c> write.</param>
    /// <param name="errors">Where errors go (stderr), unwrapped plain text, so that <c>predict --format csv</c> output stays clean.</param>
    public static int Run(IReadOnlyList<string> args, IAnsiConsole console, TextWriter errors)
    {
        var commandLine = WithDefaultCommand(args);
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("dotnet run --project samples/ImageClassification --");
            config.ConfigureConsole(console);
            config.TrimTrailingPeriods(false);
            config.SetHelpProvider(new SampleHelpProvider(config.Settings));
            config.SetExceptionHandler((exception, _) => ExitCodes.Report(exception, commandLine, errors));
            config.AddExample(Train, "--data", "photos", "--epochs", "10");
            config.AddExample("predict", "new-photos", "--format", "csv");

            config.AddCommand<TrainCommand>(Train)
                .WithDescription(
                    "Train on a folder with one sub-folder per label. By default the network starts from ImageNet weights (the ResNet "
                    + "of ML.NET's Microsoft.ML.DnnImageFeaturizer.ResNet18 package, basic blocks 2/2/2/3) and is fine-tuned: the head "
                    + "fitted to its features first, then 3 epochs end to end (stem, layer1, layer2 frozen), batch 32, AdamW, images "
                    + "upscaled to 4x their size (112 to 224 pixels).")
                .WithExample(Train, "--data", "photos", "--epochs", "10", "--image-size", "128")
                .WithExample(Train, "--data", "photos", "--arch", "resnet18", "--weights", "resnet18.pth")
                .WithExample(Train, "--from-scratch");
            config.AddCommand<EvaluateCommand>("evaluate")
                .WithDescription("Metrics of a saved model on a labelled folder.")
                .WithExample("evaluate", "--model", "out/model.int8.zip");
            config.AddCommand<PredictCommand>("predict")
                .WithDescription("Classify one image or every image under a folder.")
                .WithExample("predict", "new-photos", "--format", "csv");
            config.AddCommand<ExportCommand>("export")
                .WithDescription("Write the ONNX file of a saved model (or a Triton model repository, or also an INT8 model).")
                .WithExample("export", "--int8")
                .WithExample("export", "--triton", "models");
        });
        return app.Run(commandLine);
    }

    /// <summary>
    /// No command means <c>train</c>, also with options (<c>-- --epochs 2</c>). Done here rather than with Spectre's default
    /// command, which reports an option's missing last value as the value "__default_command".
    /// </summary>
    private static IReadOnlyList<string> WithDefaultCommand(IReadOnlyList<string> args) =>
        args.Count == 0 || (args[0].StartsWith('-') && args[0] is not ("-h" or "--help" or "-?"))
            ? [Train, .. args]
            : args;
}
