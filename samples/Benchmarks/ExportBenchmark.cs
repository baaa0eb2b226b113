using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.ResNet;
using Microsoft.ML.ResNet.Catalog;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Scoring;

namespace ResNetBenchmarks;

/// <summary>Exports ResNet-34 (1000 classes) to ONNX several times: time per export and file size.</summary>
internal sealed class ExportBenchmark : IBenchmark
{
    private const int DefaultRuns = 5;

    public string Name => "export";

    public string Description => $"ResNet-34/1000 to ONNX (file): mean/min seconds over [--runs {DefaultRuns}] exports after one warm-up, SaveOnnx of a scoring transformer beside a plain write of the same bytes, bytes, bytes/parameter; [--keep] leaves the file.";

    public void Run(string[] arguments)
    {
        var runs = BenchmarkArguments.PositiveInt(arguments, "--runs", DefaultRuns);
        var keep = arguments.Contains("--keep");
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet34, 1000));
        var parameters = model.parameters().Sum(p => p.numel());
        var folder = Path.Combine(Path.GetTempPath(), "resnetml-export-benchmark", Guid.NewGuid().ToString("N"));
        var path = Path.Combine(folder, "resnet34.onnx");
        try
        {
            // The first export pays for JIT and native warm-up; report it apart.
            var warmUp = Time(() => ResNetOnnxExporter.Export(model, path, new OnnxExportOptions()));
            var seconds = new List<double>(runs);
            for (var i = 0; i < runs; i++)
            {
                seconds.Add(Time(() => ResNetOnnxExporter.Export(model, path, new OnnxExportOptions())));
            }

            // Where the time goes: building the protobuf (folding, copying weights) vs serializing + writing.
            var build = Enumerable.Range(0, runs).Select(_ => Time(() => ResNetOnnxExporter.ToModelProto(model, new OnnxExportOptions()))).ToList();
            var exported = ResNetOnnxExporter.ToModelProto(model, new OnnxExportOptions()).Graph.Initializer
                .Sum(t => t.Dims.Aggregate(1L, (product, dimension) => product * dimension));
            var bytes = new FileInfo(path).Length;

            // The public path: a scoring transformer writing its network (parse, contract check, atomic write) against
            // writing the same bytes plainly.
            var (saveOnnx, plainWrite) = TimeSaveOnnx(path, Path.Combine(folder, "saved.onnx"), runs);
            Console.WriteLine($"{"case",-34} {"value",14}");
            Console.WriteLine($"{"first export (warm-up), s",-34} {warmUp,14:F3}");
            Console.WriteLine($"{$"mean of {runs} exports, s",-34} {seconds.Average(),14:F3}");
            Console.WriteLine($"{$"min of {runs} exports, s",-34} {seconds.Min(),14:F3}");
            Console.WriteLine($"{$"  of which ToModelProto (mean), s",-34} {build.Average(),14:F3}");
            Console.WriteLine($"{"SaveOnnx, transformer (mean), s",-34} {saveOnnx,14:F3}");
            Console.WriteLine($"{"  plain write, same bytes, s",-34} {plainWrite,14:F3}");
            Console.WriteLine($"{"file size, bytes",-34} {bytes,14:N0}");
            Console.WriteLine($"{"TorchSharp parameters",-34} {parameters,14:N0}");
            Console.WriteLine($"{"bytes / TorchSharp parameter",-34} {(double)bytes / parameters,14:F4}");
            Console.WriteLine($"{"exported (folded) parameters",-34} {exported,14:N0}");
            Console.WriteLine($"{"bytes / exported parameter",-34} {(double)bytes / exported,14:F4}");
        }
        finally
        {
            if (keep)
            {
                Console.WriteLine($"kept {path}");
            }
            else if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    private static (double SaveOnnx, double PlainWrite) TimeSaveOnnx(string exported, string target, int runs)
    {
        var ml = new MLContext();
        var info = ScoringModelInfo.Read(File.ReadAllBytes(exported), exported, HostSettings.From(ml).Resolve(gpuDeviceId: null, fallbackToCpu: null, intraOpNumThreads: null));
        var pixels = ml.Data.LoadFromEnumerable(Array.Empty<PixelRow>(), PixelRow.Definition(info.PixelCount));
        using var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { ModelPath = exported, FeatureColumnName = nameof(PixelRow.Pixels) }).Fit(pixels);
        transformer.SaveOnnx(target);
        var saveOnnx = Enumerable.Range(0, runs).Select(_ => Time(() => transformer.SaveOnnx(target))).Average();
        var bytes = File.ReadAllBytes(target);
        var plainWrite = Enumerable.Range(0, runs).Select(_ => Time(() => File.WriteAllBytes(target, bytes))).Average();
        return (saveOnnx, plainWrite);
    }

    private static double Time(Action action)
    {
        var stopwatch = Stopwatch.StartNew();
        action();
        return stopwatch.Elapsed.TotalSeconds;
    }

    private sealed class PixelRow
    {
        public float[] Pixels { get; set; } = [];

        public static SchemaDefinition Definition(int size)
        {
            var definition = SchemaDefinition.Create(typeof(PixelRow));
            definition[0].ColumnType = new VectorDataViewType(NumberDataViewType.Single, size);
            return definition;
        }
    }
}
