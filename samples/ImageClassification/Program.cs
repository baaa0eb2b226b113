using ImageClassification.Cli;
using ImageClassification.Commands;
using ImageClassification.Data;
using Spectre.Console;

// The README's main job: `dotnet run --project samples/ImageClassification` trains, evaluates and saves a
// ResNet on the embedded sample in a few minutes. See HelpText for the commands.
var console = AnsiConsole.Console;
if (Console.IsOutputRedirected)
{
    // Spectre assumes 80 columns when it cannot ask a terminal; the metric tables need more.
    console.Profile.Width = 160;
}

try
{
    var commandLine = CommandLineArgs.Parse(args);
    return commandLine.Command switch
    {
        CommandLineArgs.Help => PrintHelp(),
        CommandLineArgs.Evaluate => EvaluateCommand.Run(commandLine, console),
        CommandLineArgs.Predict => PredictCommand.Run(commandLine, console, Console.Out),
        CommandLineArgs.Export => ExportCommand.Run(commandLine, console),
        _ => TrainCommand.Run(commandLine, console),
    };
}
catch (UsageException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine("Run with --help for the commands and options.");
    return 2;
}
catch (Exception e) when (e is DatasetException or InvalidDataException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 3;
}
catch (Exception e) when (e is InvalidOperationException or ArgumentException or IOException)
{
    // The library's errors name the file, column or setting at fault; a stack trace would bury that.
    Console.Error.WriteLine($"error: {e.Message}");
    if (e.InnerException is { } inner)
    {
        Console.Error.WriteLine($"  caused by: {inner.Message}");
    }

    return 1;
}

static int PrintHelp()
{
    Console.WriteLine(HelpText.Text);
    return 0;
}
