// Shared by the notebooks (#load "NotebookHelpers.csx" after the package references cell).
// Charts are PNG bytes shown as image/png outputs, so they survive in the saved .ipynb and on GitHub.
// OxyPlot.SkiaSharp is used rather than ScottPlot 5.1: ScottPlot 5.1 needs SkiaSharp 3, which replaces
// the SkiaSharp 2.88 that ML.NET's image loader is built against (MissingMethodException when loading images).
using System.IO;
using System.Linq;
using System.Net;
using System.Text;
using Microsoft.DotNet.Interactive.Formatting;
using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Series;
using SkiaSharp;

/// <summary>A PNG image; a cell that returns or displays one shows the picture.</summary>
public sealed record PngImage(byte[] Bytes)
{
    public void Save(string path) => File.WriteAllBytes(path, Bytes);
}

Formatter.Register<PngImage>((image, writer) => writer.Write(Convert.ToBase64String(image.Bytes)), "image/png");
Formatter.SetPreferredMimeTypesFor(typeof(PngImage), "image/png");

static PngImage Render(PlotModel model, int width, int height)
{
    model.Background = OxyColors.White;
    using var stream = new MemoryStream();
    new OxyPlot.SkiaSharp.PngExporter { Width = width, Height = height }.Export(model, stream);
    return new PngImage(stream.ToArray());
}

/// <summary>One or more curves over epochs (x = 1..n).</summary>
static PngImage LineChart(string title, string yTitle, params (string Name, IReadOnlyList<double> Values)[] series)
{
    var model = new PlotModel { Title = title };
    model.Legends.Add(new OxyPlot.Legends.Legend { LegendPlacement = OxyPlot.Legends.LegendPlacement.Outside, LegendPosition = OxyPlot.Legends.LegendPosition.RightTop });
    model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = "epoch", MinimumMajorStep = 1 });
    model.Axes.Add(new LinearAxis { Position = AxisPosition.Left, Title = yTitle });
    foreach (var (name, values) in series)
    {
        var line = new LineSeries { Title = name, MarkerType = MarkerType.Circle };
        line.Points.AddRange(values.Select((v, i) => new DataPoint(i + 1, v)));
        model.Series.Add(line);
    }

    return Render(model, 640, 360);
}

/// <summary>A confusion matrix: rows actual, columns predicted, each cell labelled with its count.</summary>
static PngImage ConfusionHeatmap(string title, IReadOnlyList<IReadOnlyList<double>> counts, IReadOnlyList<string> labels)
{
    var n = counts.Count;
    var data = new double[n, n];
    for (var actual = 0; actual < n; actual++)
    {
        for (var predicted = 0; predicted < n; predicted++)
        {
            // HeatMapSeries indexes [x, y]; y = 0 is the bottom row, so flip to read top-down.
            data[predicted, n - 1 - actual] = counts[actual][predicted];
        }
    }

    var model = new PlotModel { Title = title };
    model.Axes.Add(new LinearColorAxis { Position = AxisPosition.Right, Palette = OxyPalette.Interpolate(100, OxyColors.White, OxyColors.SteelBlue, OxyColors.Navy) });
    model.Axes.Add(new CategoryAxis { Position = AxisPosition.Bottom, Title = "predicted", Key = "x", Angle = -45, ItemsSource = labels, GapWidth = 0 });
    model.Axes.Add(new CategoryAxis { Position = AxisPosition.Left, Title = "actual", Key = "y", ItemsSource = labels.Reverse().ToList(), GapWidth = 0 });
    model.Series.Add(new HeatMapSeries
    {
        X0 = 0, X1 = n - 1, Y0 = 0, Y1 = n - 1,
        XAxisKey = "x", YAxisKey = "y",
        Data = data, Interpolate = false, RenderMethod = HeatMapRenderMethod.Rectangles,
        LabelFontSize = 0.25, LabelFormatString = "0",
    });
    return Render(model, 720, 640);
}

/// <summary>A grid of thumbnails with one or two caption lines each (e.g. label, or top-k predictions).</summary>
static PngImage ImageGrid(IEnumerable<(string Path, string[] Caption)> items, int thumbnail = 96, int columns = 5)
{
    var list = items.ToList();
    var captionLines = list.Count == 0 ? 0 : list.Max(i => i.Caption.Length);
    const int pad = 8, lineHeight = 15;
    using var measure = new SKPaint { TextSize = 12, Typeface = SKTypeface.FromFamilyName("DejaVu Sans") };
    var textWidth = list.SelectMany(i => i.Caption).Select(c => (int)Math.Ceiling(measure.MeasureText(c))).DefaultIfEmpty(0).Max();
    var cellWidth = Math.Max(thumbnail, textWidth) + pad;
    var cellHeight = thumbnail + captionLines * lineHeight + 2 * pad;
    var rows = (list.Count + columns - 1) / columns;
    using var surface = SKSurface.Create(new SKImageInfo(columns * cellWidth + pad, Math.Max(1, rows) * cellHeight + pad));
    var canvas = surface.Canvas;
    canvas.Clear(SKColors.White);
    using var text = new SKPaint { Color = SKColors.Black, TextSize = 12, IsAntialias = true, Typeface = SKTypeface.FromFamilyName("DejaVu Sans") };
    using var scaling = new SKPaint { FilterQuality = SKFilterQuality.None };
    for (var i = 0; i < list.Count; i++)
    {
        var x = pad + i % columns * cellWidth;
        var y = pad + i / columns * cellHeight;
        using (var bitmap = SKBitmap.Decode(list[i].Path))
        {
            if (bitmap is not null)
            {
                canvas.DrawBitmap(bitmap, new SKRect(x, y, x + thumbnail, y + thumbnail), scaling);
            }
        }

        for (var line = 0; line < list[i].Caption.Length; line++)
        {
            canvas.DrawText(list[i].Caption[line], x, y + thumbnail + (line + 1) * lineHeight, text);
        }
    }

    using var image = surface.Snapshot();
    using var png = image.Encode(SKEncodedImageFormat.Png, 100);
    return new PngImage(png.ToArray());
}

/// <summary>Rows of any type as an HTML table, one column per public property.</summary>
static Microsoft.DotNet.Interactive.Formatting.PocketView Table<T>(IEnumerable<T> rows)
{
    var properties = typeof(T).GetProperties();
    var html = new StringBuilder("<table><thead><tr>");
    foreach (var p in properties)
    {
        html.Append("<th>").Append(WebUtility.HtmlEncode(p.Name)).Append("</th>");
    }

    html.Append("</tr></thead><tbody>");
    foreach (var row in rows)
    {
        html.Append("<tr>");
        foreach (var p in properties)
        {
            var value = p.GetValue(row);
            var text = value is IFormattable f ? f.ToString(value is double or float ? "0.000" : null, System.Globalization.CultureInfo.InvariantCulture) : value?.ToString();
            html.Append("<td>").Append(WebUtility.HtmlEncode(text ?? "")).Append("</td>");
        }

        html.Append("</tr>");
    }

    html.Append("</tbody></table>");
    return Microsoft.DotNet.Interactive.Formatting.PocketViewTags.div(new Microsoft.AspNetCore.Html.HtmlString(html.ToString()));
}

/// <summary>Points (x, y) against the line y = x: how closely two sets of numbers agree.</summary>
static PngImage AgreementChart(string title, string xTitle, string yTitle, IReadOnlyList<double> xs, IReadOnlyList<double> ys)
{
    var model = new PlotModel { Title = title };
    model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = xTitle });
    model.Axes.Add(new LinearAxis { Position = AxisPosition.Left, Title = yTitle });
    var points = new ScatterSeries { MarkerType = MarkerType.Circle, MarkerSize = 3 };
    points.Points.AddRange(xs.Zip(ys, (x, y) => new ScatterPoint(x, y)));
    var low = Math.Min(xs.Min(), ys.Min());
    var high = Math.Max(xs.Max(), ys.Max());
    var diagonal = new LineSeries { Color = OxyColors.Gray, LineStyle = LineStyle.Dash };
    diagonal.Points.Add(new DataPoint(low, low));
    diagonal.Points.Add(new DataPoint(high, high));
    model.Series.Add(diagonal);
    model.Series.Add(points);
    return Render(model, 480, 420);
}
