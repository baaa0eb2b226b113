using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.ResNet;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;

namespace ResNetBenchmarks;

/// <summary>
/// Memory over a long run: [--rows 50000] rows through a small classifier (a fresh ResNet-18 at 32x32, exported
/// with our exporter) three ways, each in a child process of its own: one lazy <c>Transform</c> read to the end,
/// one PredictionEngine kept for every row, and a PredictionEngine created and disposed per row (a web
/// request's pattern); and, as the control for the last, a PredictionEngine over ML.NET's own CopyColumns created
/// and disposed per row (what ML.NET's engine creation costs without us). Working set and managed heap (after a full collection) are sampled [--samples 20] times;
/// growth is the last sample against the first one after warm-up (the first tenth of the rows). Goal: under 5%.
/// </summary>
internal sealed class SoakBenchmark : IBenchmark
{
    private const int Size = 32;
    private const int Classes = 10;
    private const int DefaultRows = 50_000;
    private const int DefaultSamples = 20;
    private const int DistinctRows = 64;
    private const double GoalPercent = 5;
    private const string PixelColumn = OnnxContract.PixelsInput;
    private static readonly string[] Cases = ["transform", "engine-kept", "engine-per-row", "mlnet-per-row"];

    public string Name => "soak";

    public string Description =>
        $"Memory growth over [--rows {DefaultRows}] rows (ResNet-18 {Size}x{Size}, our exporter): Transform, one kept PredictionEngine, an engine created and disposed per row, and the same with ML.NET's CopyColumns as control; each in its own process, working set and managed heap sampled [--samples {DefaultSamples}] times; growth after warm-up, goal under {GoalPercent}%.";

    public void Run(string[] arguments)
    {
        var rows = BenchmarkArguments.PositiveInt(arguments, "--rows", DefaultRows);
        var samples = Math.Min(BenchmarkArguments.PositiveInt(arguments, "--samples", DefaultSamples), rows);
        var phase = BenchmarkArguments.Value(arguments, "--phase");
        if (phase is not null)
        {
            RunPhase(phase, BenchmarkArguments.Value(arguments, "--model")!, rows, samples);
            return;
        }

        var folder = Path.Combine(Path.GetTempPath(), "resnetml-soak-benchmark", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var model = Path.Combine(folder, "resnet18-32.onnx");
            using (var network = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, Classes)))
            {
                ResNetOnnxExporter.Export(network, model, new OnnxExportOptions
                {
                    InputHeight = Size,
                    InputWidth = Size,
                    Labels = Enumerable.Range(0, Classes).Select(i => $"class{i}").ToArray(),
                });
            }

            Console.WriteLine($"model: ResNet-18 {Size}x{Size}, {Classes} classes ({new FileInfo(model).Length:N0} bytes); {rows:N0} rows a case, {samples} samples, {Environment.ProcessorCount} cores");
            var summaries = Cases.Select(c => RunChild(c, model, rows, samples)).ToArray();
            Console.WriteLine();
            foreach (var summary in summaries)
            {
                Console.WriteLine(summary);
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static string RunChild(string phase, string model, int rows, int samples)
    {
        var (exitCode, stdout, stderr) = ChildProcess.RunSelf(["soak", "--phase", phase, "--model", model, "--rows", $"{rows}", "--samples", $"{samples}"]);
        foreach (var line in stdout.Split('\n').Where(l => l.StartsWith("  ", StringComparison.Ordinal)))
        {
            Console.WriteLine(line.TrimEnd());
        }

        var summary = stdout.Split('\n').FirstOrDefault(l => l.StartsWith("SOAK ", StringComparison.Ordinal));
        if (exitCode != 0 || summary is null)
        {
            return $"SOAK {phase}: FAILED (exit code {exitCode}): {stderr.Split('\n').FirstOrDefault()}";
        }

        return summary.TrimEnd();
    }

    private static void RunPhase(string phase, string model, int rows, int samples)
    {
        var ml = new MLContext(1);
        var random = new Random(7);
        var pool = Enumerable.Range(0, DistinctRows)
            .Select(_ => new PixelRow { Pixels = Enumerable.Range(0, 3 * Size * Size).Select(_ => random.NextSingle()).ToArray() })
            .ToArray();
        var definition = SchemaDefinition.Create(typeof(PixelRow));
        definition[0].ColumnName = PixelColumn;
        definition[0].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 3, Size, Size);

        // Rows are generated lazily from a small pool, so the input itself holds no memory that grows with the run.
        var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, rows).Select(i => pool[i % pool.Length]), definition);
        using var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { ModelPath = model, FeatureColumnName = PixelColumn }).Fit(data);
        var every = Math.Max(1, rows / samples);
        var points = new List<(long Row, long WorkingSet, long Heap)>();
        var stopwatch = Stopwatch.StartNew();
        void Sample(long row)
        {
            if ((row + 1) % every == 0 || row + 1 == rows)
            {
                var heap = GC.GetTotalMemory(forceFullCollection: true);
                points.Add((row + 1, Environment.WorkingSet, heap));
                Console.WriteLine(FormattableString.Invariant(
                    $"  {phase,-15} row {row + 1,8:N0}  working set {Mb(Environment.WorkingSet),8:F1} MB  managed heap {Mb(heap),7:F1} MB"));
            }
        }

        switch (phase)
        {
            case "transform":
                var scored = transformer.Transform(data);
                using (var cursor = scored.GetRowCursor(scored.Schema))
                {
                    var label = cursor.GetGetter<uint>(scored.Schema["PredictedLabel"]);
                    uint value = 0;
                    for (long row = 0; cursor.MoveNext(); row++)
                    {
                        label(ref value);
                        Sample(row);
                    }
                }

                break;
            case "engine-kept":
                using (var engine = ml.Model.CreatePredictionEngine<PixelRow, Prediction>(transformer, new PredictionEngineOptions { OwnsTransformer = false, InputSchemaDefinition = definition }))
                {
                    for (long row = 0; row < rows; row++)
                    {
                        engine.Predict(pool[row % pool.Length]);
                        Sample(row);
                    }
                }

                break;
            case "engine-per-row":
                for (long row = 0; row < rows; row++)
                {
                    using (var engine = ml.Model.CreatePredictionEngine<PixelRow, Prediction>(transformer, new PredictionEngineOptions { OwnsTransformer = false, InputSchemaDefinition = definition }))
                    {
                        engine.Predict(pool[row % pool.Length]);
                    }

                    Sample(row);
                }

                break;
            case "mlnet-per-row":
                {
                    var copy = ml.Transforms.CopyColumns("Copy", PixelColumn).Fit(data);
                    for (long row = 0; row < rows; row++)
                    {
                        using (var engine = ml.Model.CreatePredictionEngine<PixelRow, Copied>(copy, new PredictionEngineOptions { OwnsTransformer = false, InputSchemaDefinition = definition }))
                        {
                            engine.Predict(pool[row % pool.Length]);
                        }

                        Sample(row);
                    }
                }

                break;
            default:
                throw new ArgumentException($"Unknown soak phase '{phase}'. Known: {string.Join(", ", Cases)}.", nameof(phase));
        }

        // Growth is measured from the first sample after warm-up (JIT, ORT's arenas, ML.NET's caches) to the last.
        var warm = points.FirstOrDefault(p => p.Row >= rows / 10);
        if (warm == default)
        {
            warm = points[0];
        }

        var last = points[^1];
        var workingSetGrowth = 100.0 * (last.WorkingSet - warm.WorkingSet) / warm.WorkingSet;
        var heapGrowth = 100.0 * (last.Heap - warm.Heap) / warm.Heap;
        var verdict = workingSetGrowth < GoalPercent && heapGrowth < GoalPercent ? "within" : "OVER";
        Console.WriteLine(FormattableString.Invariant(
            $"SOAK {phase}: {rows:N0} rows in {stopwatch.Elapsed.TotalSeconds:F0} s; after warm-up (row {warm.Row:N0}) to the end: working set {Mb(warm.WorkingSet):F1} -> {Mb(last.WorkingSet):F1} MB ({Signed(workingSetGrowth)}%), managed heap {Mb(warm.Heap):F1} -> {Mb(last.Heap):F1} MB ({Signed(heapGrowth)}%); peak working set {Mb(points.Max(p => p.WorkingSet)):F1} MB; {verdict} the {GoalPercent}% goal"));
    }

    private static double Mb(long bytes) => bytes / (1024.0 * 1024.0);

    private static string Signed(double percent) => (percent >= 0 ? "+" : string.Empty) + percent.ToString("F1", CultureInfo.InvariantCulture);

    private sealed class PixelRow
    {
        public float[] Pixels { get; set; } = [];
    }

    private sealed class Copied
    {
        [VectorType(3 * Size * Size)]
        public float[] Copy { get; set; } = [];
    }

    private sealed class Prediction
    {
        public uint PredictedLabel { get; set; }
    }
}
