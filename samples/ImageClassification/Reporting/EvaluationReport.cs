using System.Globalization;
using Microsoft.ML.Data;
using Spectre.Console;

namespace ImageClassification.Reporting;

/// <summary>Prints ML.NET's multiclass metrics: summary, per-class precision/recall/log-loss, confusion matrix.</summary>
internal static class EvaluationReport
{
    /// <summary>
    /// The line CI greps for; printed plainly (no markup, no wrapping) so it survives any terminal.
    /// </summary>
    public static string AccuracyLine(MulticlassClassificationMetrics metrics) =>
        string.Create(CultureInfo.InvariantCulture, $"Accuracy (micro): {metrics.MicroAccuracy:0.0000}");

    /// <summary>Writes the whole report.</summary>
    /// <param name="console">Where to write.</param>
    /// <param name="metrics">From <c>MulticlassClassification.Evaluate</c>.</param>
    /// <param name="labels">Class names in key order (the confusion matrix's order).</param>
    /// <param name="topK">The <c>topKPredictionCount</c> the metrics were computed with.</param>
    public static void Write(IAnsiConsole console, MulticlassClassificationMetrics metrics, IReadOnlyList<string> labels, int topK)
    {
        console.WriteLine(AccuracyLine(metrics));
        console.WriteLine(F($"Accuracy (macro): {metrics.MacroAccuracy:0.0000}"));
        console.WriteLine(F($"Log-loss: {metrics.LogLoss:0.0000}   Log-loss reduction: {metrics.LogLossReduction:0.0000}"));
        if (topK > 1 && metrics.TopKAccuracyForAllK is { Count: > 0 } topKs)
        {
            console.WriteLine("Top-k accuracy: " + string.Join("  ", topKs.Select((a, i) => F($"top-{i + 1} {a:0.0000}"))));
        }

        console.Write(PerClassTable(metrics, labels));
        console.Write(ConfusionTable(metrics.ConfusionMatrix, labels));
    }

    /// <summary>Support, precision, recall, F1 and log-loss for each class.</summary>
    public static Table PerClassTable(MulticlassClassificationMetrics metrics, IReadOnlyList<string> labels)
    {
        var matrix = metrics.ConfusionMatrix;
        var table = new Table().Border(TableBorder.Rounded).Title("Per-class metrics")
            .AddColumn("Label")
            .AddColumn(new TableColumn("Support").RightAligned())
            .AddColumn(new TableColumn("Precision").RightAligned())
            .AddColumn(new TableColumn("Recall").RightAligned())
            .AddColumn(new TableColumn("F1").RightAligned())
            .AddColumn(new TableColumn("Log-loss").RightAligned());
        for (var c = 0; c < matrix.NumberOfClasses; c++)
        {
            var precision = matrix.PerClassPrecision[c];
            var recall = matrix.PerClassRecall[c];
            var f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
            var logLoss = c < metrics.PerClassLogLoss.Count ? metrics.PerClassLogLoss[c] : double.NaN;
            table.AddRow(
                Markup.Escape(LabelAt(labels, c)),
                F($"{matrix.Counts[c].Sum():0}"),
                F($"{precision:0.000}"),
                F($"{recall:0.000}"),
                F($"{f1:0.000}"),
                F($"{logLoss:0.000}"));
        }

        return table;
    }

    /// <summary>Rows are the actual class, columns the predicted one (numbered to keep the table narrow).</summary>
    public static Table ConfusionTable(ConfusionMatrix matrix, IReadOnlyList<string> labels)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("Confusion matrix (rows: actual, columns: predicted)").AddColumn("Actual \\ Predicted");
        for (var c = 0; c < matrix.NumberOfClasses; c++)
        {
            table.AddColumn(new TableColumn(c.ToString(CultureInfo.InvariantCulture)).RightAligned());
        }

        for (var row = 0; row < matrix.NumberOfClasses; row++)
        {
            var cells = new List<string> { Markup.Escape($"{row} {LabelAt(labels, row)}") };
            for (var column = 0; column < matrix.NumberOfClasses; column++)
            {
                var count = F($"{matrix.Counts[row][column]:0}");
                cells.Add(row == column ? $"[green]{count}[/]" : matrix.Counts[row][column] > 0 ? count : $"[grey]{count}[/]");
            }

            table.AddRow(cells.ToArray());
        }

        return table;
    }

    private static string LabelAt(IReadOnlyList<string> labels, int index) =>
        index < labels.Count ? labels[index] : index.ToString(CultureInfo.InvariantCulture);

    private static string F(FormattableString value) => value.ToString(CultureInfo.InvariantCulture);
}
