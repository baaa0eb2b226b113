using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.ResNet;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;

namespace ResNetBenchmarks;

/// <summary>
/// Images per second scoring one ResNet-34 ONNX model (our exporter, 224x224, 1000 classes) three ways:
/// ML.NET's stock ApplyOnnxModel (one row per run), our ResNetClassify at batch 1/8/32, and a bare ONNX
/// Runtime session at the same batch sizes. Throughput is measured with all cases in one child process,
/// interleaved round by round, so that other load on the machine hits them alike; then each case runs alone
/// in its own child process for its peak working set (Process.PeakWorkingSet64 never goes down within a process).
/// </summary>
internal sealed class ScoringBenchmark : IBenchmark
{
    private const int Size = 224;
    private const int DefaultImages = 96;
    private const int DefaultPasses = 3;
    private const string PixelColumn = OnnxContract.PixelsInput;
    private static readonly int[] BatchSizes = [1, 8, 32];

    public string Name => "scoring";

    public string Description =>
        $"ResNet-34 224x224 images/s: stock ApplyOnnxModel vs ours at batch {string.Join('/', BatchSizes)} vs bare ONNX Runtime; median and best of [--passes {DefaultPasses}] interleaved rounds over [--images {DefaultImages}]; then each case alone in a child process for its peak working set; [--onnx FILE] scores that model (our contract, 1000 classes) instead of exporting one.";

    public void Run(string[] arguments)
    {
        var images = BenchmarkArguments.PositiveInt(arguments, "--images", DefaultImages);
        var passes = BenchmarkArguments.PositiveInt(arguments, "--passes", DefaultPasses);
        var phase = BenchmarkArguments.Value(arguments, "--phase");
        if (phase is not null)
        {
            var model = BenchmarkArguments.Value(arguments, "--model")!;
            RunPhase(phase, model, images, passes);
            return;
        }

        var folder = Path.Combine(Path.GetTempPath(), "resnetml-scoring-benchmark", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        var given = BenchmarkArguments.Value(arguments, "--onnx");
        var path = given ?? Path.Combine(folder, "resnet34.onnx");
        try
        {
            if (given is null)
            {
                using var network = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet34, 1000));
                ResNetOnnxExporter.Export(network, path, new OnnxExportOptions());
            }

            Console.WriteLine($"model: {path} ({new FileInfo(path).Length:N0} bytes), {images} images of {Size}x{Size}, {passes} rounds, {Environment.ProcessorCount} cores");
            var cases = new List<string> { "stock" };
            cases.AddRange(BatchSizes.Select(b => $"ours-{b}"));
            cases.AddRange(BatchSizes.Select(b => $"ort-{b}"));

            // Throughput: all cases in one process, interleaved round by round, so that load from other
            // processes on the machine hits every case alike. Peak memory: each case alone in its own process.
            var interleaved = RunChild("all", path, images, passes);
            Console.WriteLine($"{"case",-28} {"median images/s",16} {"best images/s",14} {"alone: images/s",16} {"alone: peak working set",24}");
            foreach (var name in cases)
            {
                var alone = RunChild(name, path, images, passes)[name];
                var (median, best, _) = interleaved[name];
                Console.WriteLine($"{Label(name),-28} {median,16:F1} {best,14:F1} {alone.Best,16:F1} {alone.Peak / (1024.0 * 1024.0),21:F0} MB");
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static string Label(string phase) => phase switch
    {
        "stock" => "ML.NET ApplyOnnxModel",
        _ when phase.StartsWith("ours-", StringComparison.Ordinal) => $"ResNetClassify batch {phase[5..]}",
        _ => $"bare ONNX Runtime batch {phase[4..]}",
    };

    private static Dictionary<string, (double Median, double Best, long Peak)> RunChild(string phase, string model, int images, int passes)
    {
        var (exitCode, stdout, stderr) = ChildProcess.RunSelf(["scoring", "--phase", phase, "--model", model, "--images", $"{images}", "--passes", $"{passes}"]);
        var results = stdout.Split('\n').Where(l => l.StartsWith("RESULT ", StringComparison.Ordinal)).ToArray();
        if (exitCode != 0 || results.Length == 0)
        {
            throw new InvalidOperationException($"Phase {phase} failed ({exitCode}):\n{stdout}\n{stderr}");
        }

        return results.Select(r => r.Trim().Split(' ')).ToDictionary(
            parts => parts[1],
            parts => (double.Parse(parts[2], CultureInfo.InvariantCulture), double.Parse(parts[3], CultureInfo.InvariantCulture), long.Parse(parts[4], CultureInfo.InvariantCulture)));
    }

    private static void RunPhase(string phase, string model, int images, int passes)
    {
        var ml = new MLContext(1);
        var pixels = LoadPixels(ml, images);
        var data = ml.Data.Cache(ml.Data.LoadFromEnumerable(pixels.Select(p => new PixelRow { Pixels = p }), PixelDefinition()));
        var names = phase == "all"
            ? new[] { "stock" }.Concat(BatchSizes.Select(b => $"ours-{b}")).Concat(BatchSizes.Select(b => $"ort-{b}")).ToArray()
            : [phase];
        var cases = names.Select(name => (Name: name, Pass: Setup(name, ml, data, pixels, model))).ToArray();
        foreach (var (_, pass) in cases)
        {
            pass(); // warm-up: session creation, JIT, ORT's first-run allocations
        }

        var rates = cases.ToDictionary(c => c.Name, _ => new List<double>());
        for (var round = 0; round < passes; round++)
        {
            foreach (var (name, pass) in cases)
            {
                var stopwatch = Stopwatch.StartNew();
                var scored = pass();
                rates[name].Add(scored / stopwatch.Elapsed.TotalSeconds);
            }
        }

        using var self = Process.GetCurrentProcess();
        self.Refresh();
        foreach (var (name, list) in rates)
        {
            var sorted = list.Order().ToArray();
            var median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
            Console.WriteLine(FormattableString.Invariant($"RESULT {name} {median:F3} {sorted[^1]:F3} {self.PeakWorkingSet64}"));
        }
    }

    private static Func<int> Setup(string name, MLContext ml, IDataView data, float[][] pixels, string model) => name switch
    {
        "stock" => StockPass(ml, data, model),
        _ when name.StartsWith("ours-", StringComparison.Ordinal) => OursPass(ml, data, model, int.Parse(name[5..], CultureInfo.InvariantCulture)),
        _ => OrtPass(pixels, model, int.Parse(name[4..], CultureInfo.InvariantCulture)),
    };

    private static Func<int> StockPass(MLContext ml, IDataView data, string model)
    {
        var transformer = ml.Transforms.ApplyOnnxModel(OnnxContract.ProbabilitiesOutput, PixelColumn, model).Fit(data);
        return () => Drain(transformer.Transform(data), OnnxContract.ProbabilitiesOutput);
    }

    private static Func<int> OursPass(MLContext ml, IDataView data, string model, int batch)
    {
        var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { ModelPath = model, FeatureColumnName = PixelColumn, BatchSize = batch }).Fit(data);
        return () => Drain(transformer.Transform(data), "Score");
    }

    private static Func<int> OrtPass(float[][] pixels, string model, int batch)
    {
        // The bare session gets the same thread count as ours, so the comparison isolates the pipeline.
        var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = Environment.ProcessorCount };
        var session = new InferenceSession(model, options);
        var rowLength = 3 * Size * Size;
        var input = new float[batch * rowLength];
        var output = new float[batch * 1000];
        string[] inputNames = [OnnxContract.PixelsInput];
        string[] outputNames = [OnnxContract.ProbabilitiesOutput];
        var runOptions = new RunOptions();
        return () =>
        {
            for (var start = 0; start < pixels.Length; start += batch)
            {
                var count = Math.Min(batch, pixels.Length - start);
                for (var i = 0; i < count; i++)
                {
                    pixels[start + i].CopyTo(input, i * rowLength);
                }

                using var inputValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, new Memory<float>(input, 0, count * rowLength), [count, 3, Size, Size]);
                using var outputValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, new Memory<float>(output, 0, count * 1000), [count, 1000]);
                session.Run(runOptions, inputNames, [inputValue], outputNames, [outputValue]);
            }

            return pixels.Length;
        };
    }

    private static int Drain(IDataView scored, string column)
    {
        var rows = 0;
        using var cursor = scored.GetRowCursor([scored.Schema[column]]);
        var getter = cursor.GetGetter<VBuffer<float>>(scored.Schema[column]);
        VBuffer<float> value = default;
        while (cursor.MoveNext())
        {
            getter(ref value);
            rows++;
        }

        return rows;
    }

    private static float[][] LoadPixels(MLContext ml, int images)
    {
        var photos = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "photos"), "*.png").Order(StringComparer.Ordinal).ToArray();
        var paths = Enumerable.Range(0, images).Select(i => new PathRow { ImagePath = photos[i % photos.Length] });
        var data = ml.Data.LoadFromEnumerable(paths);
        var pipeline = ml.Transforms.LoadImages("Image", "", nameof(PathRow.ImagePath))
            .Append(ml.Transforms.ResizeImages("Image", Size, Size))
            .Append(ml.Transforms.ExtractPixels(PixelColumn, "Image", scaleImage: 1f / 255));
        return pipeline.Fit(data).Transform(data).GetColumn<float[]>(PixelColumn).ToArray();
    }

    private static SchemaDefinition PixelDefinition()
    {
        var definition = SchemaDefinition.Create(typeof(PixelRow));
        definition[0].ColumnName = PixelColumn;
        definition[0].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 3, Size, Size);
        return definition;
    }

    private sealed class PathRow
    {
        public string ImagePath { get; set; } = "";
    }

    private sealed class PixelRow
    {
        public float[] Pixels { get; set; } = [];
    }
}
