using ImageClassification.Cli;
using Spectre.Console;

// The README's main job: `dotnet run --project samples/ImageClassification` trains, evaluates and saves a
// ResNet on the embedded sample in a few minutes. `--help` lists the commands; Cli/ holds their options.
var console = AnsiConsole.Console;
if (Console.IsOutputRedirected)
{
    // Spectre assumes 80 columns when it cannot ask a terminal; the metric tables need more.
    console.Profile.Width = 160;
}

return SampleApp.Run(args, console, Console.Error);
