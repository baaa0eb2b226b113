using System.Globalization;

namespace WebApp;

/// <summary>The command line: <c>--model PATH</c>, <c>--max-upload-mb N</c>, <c>--max-batch N</c>, <c>--max-wait-ms N</c>,
/// <c>--queue N</c>, <c>--top N</c>, <c>--no-heatmap</c>. Where to listen comes from ASP.NET Core's own settings (ASPNETCORE_URLS, --urls).</summary>
internal sealed record ServerSettings(string ModelPath, long MaxUploadBytes, int MaxBatchSize, double MaxWaitMilliseconds, int QueueCapacity, int TopK, bool HeatMap)
{
    /// <summary>The main job's output: what `dotnet run --project samples/ImageClassification` writes.</summary>
    public const string DefaultModelPath = "out/model.zip";

    public const int DefaultMaxUploadMegabytes = 10;

    /// <exception cref="ArgumentException">A value is not a positive number; the message names the option.</exception>
    public static ServerSettings Parse(string[] args) => new(
        Value(args, "--model") ?? DefaultModelPath,
        Positive(args, "--max-upload-mb", DefaultMaxUploadMegabytes) * 1024L * 1024L,
        Positive(args, "--max-batch", 32),
        Positive(args, "--max-wait-ms", 2, allowZero: true),
        Positive(args, "--queue", 256),
        Positive(args, "--top", 5),
        !args.Contains("--no-heatmap"));

    private static string? Value(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }

    private static int Positive(string[] args, string name, int fallback, bool allowZero = false)
    {
        var text = Value(args, name);
        if (text is null)
        {
            return fallback;
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && (value > 0 || (allowZero && value == 0))
            ? value
            : throw new ArgumentException($"{name} must be a whole number {(allowZero ? "of 0 or more" : "above 0")}; got '{text}'.");
    }
}
