using ImageClassification.Data;
using Spectre.Console;

namespace ImageClassification.Commands;

/// <summary>Tells the user which image files were left out (under <c>--bad-images skip</c>).</summary>
internal static class SkippedReport
{
    private const int Shown = 10;

    public static void Write(IAnsiConsole console, IReadOnlyList<SkippedImage> skipped)
    {
        if (skipped.Count == 0)
        {
            return;
        }

        console.MarkupLine($"[yellow]Skipped {skipped.Count} unreadable image file(s)[/] (use --bad-images fail to stop instead):");
        foreach (var image in skipped.Take(Shown))
        {
            console.MarkupLine($"  [yellow]{Markup.Escape(image.Path)}[/]: {Markup.Escape(image.Reason)}");
        }

        if (skipped.Count > Shown)
        {
            console.MarkupLine($"  ... and {skipped.Count - Shown} more");
        }
    }
}
