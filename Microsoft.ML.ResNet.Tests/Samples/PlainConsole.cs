using Spectre.Console;

namespace Microsoft.ML.ResNet.Tests.Samples;

/// <summary>A console for the sample's commands that writes plain text (no colours, no live widgets) into a string.</summary>
internal static class PlainConsole
{
    public static (IAnsiConsole Console, StringWriter Text) Create()
    {
        var text = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(text),
        });

        // Wide enough that no line the tests look for is wrapped.
        console.Profile.Width = 400;
        return (console, text);
    }
}
