using System.Diagnostics;
using System.Globalization;
using ImageClassification.Model;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.ResNet;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;

namespace ResNetBenchmarks;

/// <summary>
/// FP32 against INT8 (SaveOnnx with calibration) in the same run, both scored through ResNetClassify at batch 1/8/32:
/// a ResNet-34 at 224x224 (1000 classes, random initialization: speed only) calibrated on 200 committed Fashion-MNIST
/// training images upscaled to 224, and a 32x32 ResNet-34 with 10 classes (the sample's input size; random
/// initialization, or [--small-model FILE], e.g. the sample's out/model.onnx) calibrated on those images at 32x32.
/// Throughput: both precisions in one child process, interleaved round by round, so other load hits them alike; peak
/// working set: each model alone in its own child process at batch 32.
/// </summary>
internal sealed class Int8Benchmark : IBenchmark
{
    private const int LargeSize = 224;
    private const int SmallSize = 32;
    private const int DefaultImages = 96;
    private const int DefaultPasses = 3;
    private const string PixelColumn = OnnxContract.PixelsInput;
    private static readonly int[] BatchSizes = [1, 8, 32];

    public string Name => "int8";

    public string Description =>
        $"FP32 vs INT8 images/s through ResNetClassify at batch {string.Join('/', BatchSizes)}: ResNet-34 224x224 and a 32x32 model [--small-model FILE]; file size, peak working set; median of [--passes {DefaultPasses}] interleaved rounds over [--images {DefaultImages}] (x8 at 32x32).";

    public void Run(string[] arguments)
    {
        var images = BenchmarkArguments.PositiveInt(arguments, "--images", DefaultImages);
        var passes = BenchmarkArguments.PositiveInt(arguments, "--passes", DefaultPasses);
        if (BenchmarkArguments.Value(arguments, "--phase") is { } phase)
        {
            RunPhase(phase, arguments, images, passes);
            return;
        }

        PrintCpu();
        var folder = Path.Combine(Path.GetTempPath(), "resnetml-int8-benchmark", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var large = Prepare(folder, "resnet34-224", LargeSize, 1000, null);
            var small = Prepare(folder, "resnet34-32", SmallSize, 10, BenchmarkArguments.Value(arguments, "--small-model"));
            double speedup32 = 0;
            foreach (var (name, fp32, int8, size, count) in new[] { (large.Name, large.Fp32, large.Int8, LargeSize, images), (small.Name, small.Fp32, small.Int8, SmallSize, images * 8) })
            {
                Console.WriteLine();
                Console.WriteLine($"{name}: FP32 {new FileInfo(fp32).Length:N0} bytes, INT8 {new FileInfo(int8).Length:N0} bytes ({(double)new FileInfo(int8).Length / new FileInfo(fp32).Length:P1}); {count} images, {passes} rounds, {Environment.ProcessorCount} cores");
                var rates = RunChild(["--phase", "speed", "--fp32", fp32, "--int8", int8, "--size", $"{size}", "--images", $"{count}", "--passes", $"{passes}"]);
                Console.WriteLine($"{"batch",6} {"FP32 images/s",14} {"INT8 images/s",14} {"speedup",8}");
                foreach (var batch in BatchSizes)
                {
                    var (f, i) = (rates[$"fp32-{batch}"], rates[$"int8-{batch}"]);
                    Console.WriteLine($"{batch,6} {f,14:F1} {i,14:F1} {i / f,7:F2}x");
                    if (size == LargeSize && batch == 32)
                    {
                        speedup32 = i / f;
                    }
                }

                var fp32Peak = RunChild(["--phase", "peak", "--model", fp32, "--size", $"{size}", "--images", $"{count}"])["peak"];
                var int8Peak = RunChild(["--phase", "peak", "--model", int8, "--size", $"{size}", "--images", $"{count}"])["peak"];
                Console.WriteLine($"peak working set, alone at batch 32: FP32 {fp32Peak / (1024 * 1024):F0} MB, INT8 {int8Peak / (1024 * 1024):F0} MB");
            }

            Console.WriteLine();
            Console.WriteLine(FormattableString.Invariant($"int8 speedup batch 32: {speedup32:F2}x"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static void PrintCpu()
    {
        var vnni = CpuFeatures.HasVnni;
        Console.WriteLine($"{CpuInfo.Summary}; VNNI: {(vnni ? "yes" : "no")}");
        if (!vnni)
        {
            Console.WriteLine("Note: this CPU has no VNNI; the INT8 model runs correctly but may be no faster than FP32.");
        }
    }

    /// <summary>The FP32 file and its INT8 twin, calibrated on 200 Fashion-MNIST training images at <paramref name="size"/>.</summary>
    private static (string Name, string Fp32, string Int8) Prepare(string folder, string name, int size, int classes, string? given)
    {
        var fp32 = given ?? Path.Combine(folder, $"{name}.onnx");
        if (given is null)
        {
            using var network = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet34, classes));
            ResNetOnnxExporter.Export(network, fp32, new OnnxExportOptions { InputHeight = size, InputWidth = size });
        }

        var ml = new MLContext(1);
        var calibration = Pixels(ml, Directory.GetFiles(FashionMnist("train"), "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Where((_, i) => i % 10 == 0).Take(200), size);
        using var classifier = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { ModelPath = fp32, FeatureColumnName = PixelColumn }).Fit(calibration);
        var int8 = Path.Combine(folder, $"{Path.GetFileNameWithoutExtension(fp32)}.int8.onnx");
        var watch = Stopwatch.StartNew();
        classifier.SaveOnnx(int8, calibration);
        var seconds = watch.Elapsed.TotalSeconds;
        using var quantized = Classifier(ml, calibration, int8, 1);
        Console.WriteLine($"{name}: calibrated and quantized in {seconds:F1} s ({quantized.Quantization})");
        return (given is null ? name : $"{name} ({given})", fp32, int8);
    }

    private static Dictionary<string, double> RunChild(string[] arguments)
    {
        var (exitCode, stdout, stderr) = ChildProcess.RunSelf(["int8", .. arguments]);
        var results = stdout.Split('\n').Where(l => l.StartsWith("RESULT ", StringComparison.Ordinal)).ToArray();
        if (exitCode != 0 || results.Length == 0)
        {
            throw new InvalidOperationException($"Phase {string.Join(' ', arguments)} failed ({exitCode}):\n{stdout}\n{stderr}");
        }

        return results.Select(r => r.Trim().Split(' ')).ToDictionary(p => p[1], p => double.Parse(p[2], CultureInfo.InvariantCulture));
    }

    private static void RunPhase(string phase, string[] arguments, int images, int passes)
    {
        var size = BenchmarkArguments.PositiveInt(arguments, "--size", LargeSize);
        var ml = new MLContext(1);
        var data = ml.Data.Cache(ScoringImages(ml, size, images));
        if (phase == "peak")
        {
            using var alone = Classifier(ml, data, BenchmarkArguments.Value(arguments, "--model")!, 32);
            Drain(alone.Transform(data));
            using var self = Process.GetCurrentProcess();
            self.Refresh();
            Console.WriteLine(FormattableString.Invariant($"RESULT peak {self.PeakWorkingSet64}"));
            return;
        }

        var cases = new List<(string Name, ResNetClassifierTransformer Classifier)>();
        foreach (var batch in BatchSizes)
        {
            cases.Add(($"fp32-{batch}", Classifier(ml, data, BenchmarkArguments.Value(arguments, "--fp32")!, batch)));
            cases.Add(($"int8-{batch}", Classifier(ml, data, BenchmarkArguments.Value(arguments, "--int8")!, batch)));
        }

        foreach (var (_, classifier) in cases)
        {
            Drain(classifier.Transform(data)); // warm-up: JIT, ORT's first-run allocations
        }

        var rates = cases.ToDictionary(c => c.Name, _ => new List<double>());
        for (var round = 0; round < passes; round++)
        {
            foreach (var (name, classifier) in cases)
            {
                var watch = Stopwatch.StartNew();
                var rows = Drain(classifier.Transform(data));
                rates[name].Add(rows / watch.Elapsed.TotalSeconds);
            }
        }

        foreach (var (name, list) in rates)
        {
            var sorted = list.Order().ToArray();
            Console.WriteLine(FormattableString.Invariant($"RESULT {name} {sorted[sorted.Length / 2]:F3}"));
        }
    }

    private static ResNetClassifierTransformer Classifier(MLContext ml, IDataView data, string model, int batch) =>
        ml.Transforms.ResNetClassify(new ResNetClassifierOptions { ModelPath = model, FeatureColumnName = PixelColumn, BatchSize = batch }).Fit(data);

    /// <summary>Photographs at 224x224, Fashion-MNIST test images at 32x32, repeated to <paramref name="images"/> rows.</summary>
    private static IDataView ScoringImages(MLContext ml, int size, int images)
    {
        var files = size == LargeSize
            ? Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "photos"), "*.png")
            : Directory.GetFiles(FashionMnist("test"), "*.png", SearchOption.AllDirectories);
        Array.Sort(files, StringComparer.Ordinal);
        return Pixels(ml, Enumerable.Range(0, images).Select(i => files[i % files.Length]), size);
    }

    private static string FashionMnist(string split) => Path.Combine(AppContext.BaseDirectory, "transfer-data", "fashion-mnist", split);

    private static IDataView Pixels(MLContext ml, IEnumerable<string> files, int size)
    {
        var data = ml.Data.LoadFromEnumerable(files.Select(f => new PathRow { ImagePath = f }).ToArray());
        var pipeline = ml.Transforms.LoadImages("Image", "", nameof(PathRow.ImagePath))
            .Append(ml.Transforms.ResizeImages("Image", size, size))
            .Append(ml.Transforms.ExtractPixels(PixelColumn, "Image", scaleImage: 1f / 255))
            .Append(ml.Transforms.DropColumns("Image"));
        return pipeline.Fit(data).Transform(data);
    }

    private static int Drain(IDataView scored)
    {
        var rows = 0;
        var column = scored.Schema["Score"];
        using var cursor = scored.GetRowCursor([column]);
        var getter = cursor.GetGetter<VBuffer<float>>(column);
        VBuffer<float> value = default;
        while (cursor.MoveNext())
        {
            getter(ref value);
            rows++;
        }

        return rows;
    }

    private sealed class PathRow
    {
        public string ImagePath { get; set; } = "";
    }
}
