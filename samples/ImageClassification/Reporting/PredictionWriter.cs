using System.Globalization;
using System.Text.Json;
using Spectre.Console;

namespace ImageClassification.Reporting;

/// <summary>Writes predictions as a table, CSV or JSON.</summary>
internal static class PredictionWriter
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>Writes <paramref name="predictions"/> to <paramref name="output"/> (CSV, JSON) or the console (table).</summary>
    public static void Write(IReadOnlyList<Prediction> predictions, PredictionFormat format, TextWriter output, IAnsiConsole console)
    {
        switch (format)
        {
            case PredictionFormat.Csv:
                WriteCsv(predictions, output);
                break;
            case PredictionFormat.Json:
                WriteJson(predictions, output);
                break;
            default:
                console.Write(ToTable(predictions));
                break;
        }
    }

    /// <summary>Header <c>image_path,predicted_label,score,top1_label,top1_score,...</c>; invariant culture numbers.</summary>
    public static void WriteCsv(IReadOnlyList<Prediction> predictions, TextWriter output)
    {
        var k = predictions.Count == 0 ? 0 : predictions.Max(p => p.Top.Count);
        var header = new List<string> { "image_path", "predicted_label", "score" };
        for (var i = 1; i <= k; i++)
        {
            header.Add($"top{i}_label");
            header.Add($"top{i}_score");
        }

        output.WriteLine(string.Join(',', header));
        foreach (var p in predictions)
        {
            var fields = new List<string> { Quote(p.ImagePath), Quote(p.PredictedLabel), Number(p.Score) };
            for (var i = 0; i < k; i++)
            {
                fields.Add(i < p.Top.Count ? Quote(p.Top[i].Label) : string.Empty);
                fields.Add(i < p.Top.Count ? Number(p.Top[i].Score) : string.Empty);
            }

            output.WriteLine(string.Join(',', fields));
        }
    }

    /// <summary>An indented JSON array of <c>{ imagePath, predictedLabel, score, top: [{ label, score }] }</c>.</summary>
    public static void WriteJson(IReadOnlyList<Prediction> predictions, TextWriter output)
    {
        var rows = predictions.Select(p => new
        {
            p.ImagePath,
            p.PredictedLabel,
            p.Score,
            Top = p.Top.Select(t => new { t.Label, t.Score }),
        });
        output.WriteLine(JsonSerializer.Serialize(rows, JsonOptions));
    }

    /// <summary>The table <c>predict</c> and <c>train</c> show.</summary>
    public static Table ToTable(IReadOnlyList<Prediction> predictions)
    {
        var withActual = predictions.Any(p => p.ActualLabel is not null);
        var table = new Table().Border(TableBorder.Rounded).AddColumn("Image").AddColumn("Predicted").AddColumn(new TableColumn("Score").RightAligned());
        if (withActual)
        {
            table.AddColumn("Actual");
        }

        table.AddColumn("Top-k");
        foreach (var p in predictions)
        {
            var cells = new List<string>
            {
                Markup.Escape(Path.GetFileName(p.ImagePath)),
                Markup.Escape(p.PredictedLabel),
                p.Score.ToString("0.000", CultureInfo.InvariantCulture),
            };
            if (withActual)
            {
                var mark = p.ActualLabel == p.PredictedLabel ? "[green]ok[/]" : "[red]x[/]";
                cells.Add($"{Markup.Escape(p.ActualLabel ?? string.Empty)} {mark}");
            }

            cells.Add(Markup.Escape(string.Join(", ", p.Top.Select(t => $"{t.Label} {t.Score.ToString("0.00", CultureInfo.InvariantCulture)}"))));
            table.AddRow(cells.ToArray());
        }

        return table;
    }

    private static string Number(float value) => value.ToString("0.######", CultureInfo.InvariantCulture);

    private static string Quote(string field) =>
        field.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? $"\"{field.Replace("\"", "\"\"", StringComparison.Ordinal)}\"" : field;
}
