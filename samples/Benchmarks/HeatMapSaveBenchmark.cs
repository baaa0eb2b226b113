using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.ResNet;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Scoring;

namespace ResNetBenchmarks;

/// <summary>
/// What saving the heat-map column costs: the same classifier saved without and with a heat-map column (the maps of the
/// predicted class), rounds alternating, on the test fixtures' two kinds of network; save time (Model.Save and
/// SaveAtomically), the graph rewrite alone (the part of a save the column changes), zip size and our loader's time.
/// </summary>
internal sealed class HeatMapSaveBenchmark : IBenchmark
{
    private const int DefaultRounds = 5;

    public string Name => "heatmapsave";

    public string Description =>
        $"Save/SaveAtomically time, zip bytes and our Load time of a classifier without and with a heat-map column, ResNet-18/5 at 64x64 and ResNet-34/1000 at 224x224, [--rounds {DefaultRounds}] alternating rounds (median).";

    public void Run(string[] arguments)
    {
        var rounds = BenchmarkArguments.PositiveInt(arguments, "--rounds", DefaultRounds);
        var folder = Path.Combine(Path.GetTempPath(), "resnetml-heatmapsave-benchmark", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            Console.WriteLine($"{Environment.ProcessorCount} cores; {rounds} rounds, median");
            Console.WriteLine($"{"network",-22} {"heat map",-9} {"Save s",8} {"Atomic s",9} {"Rewrite s",10} {"Load s",8} {"zip bytes",14}");
            Measure(folder, ResNetArchitecture.ResNet18, 5, 64, rounds);
            Measure(folder, ResNetArchitecture.ResNet34, 1000, 224, rounds);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static void Measure(string folder, ResNetArchitecture architecture, int classes, int size, int rounds)
    {
        var onnx = Path.Combine(folder, $"{architecture}-{classes}.onnx");
        using (var network = new ResNetModel(new ResNetSpec(architecture, classes)))
        {
            network.eval();
            var labels = Enumerable.Range(0, classes).Select(i => $"class {i:D4}").ToArray();
            ResNetOnnxExporter.Export(network, onnx, new OnnxExportOptions { Labels = labels, InputHeight = size, InputWidth = size });
        }

        var ml = new MLContext(1);
        var images = ml.Data.LoadFromEnumerable(Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "photos"), "*.png").Select(p => new StartupChild.ImageInput { ImagePath = p }).ToArray());
        var pixels = ml.Transforms.LoadImages("Image", "", nameof(StartupChild.ImageInput.ImagePath))
            .Append(ml.Transforms.ResizeImages("Image", size, size))
            .Append(ml.Transforms.ExtractPixels("Pixels", "Image", scaleImage: 1f / 255))
            .Fit(images).Transform(images);
        pixels = ml.Data.Cache(ml.Transforms.DropColumns("Image").Fit(pixels).Transform(pixels));

        var cases = new[] { (Name: "none", Column: (string?)null), (Name: "predicted", Column: "HeatMap") }
            .Select(c => (c.Name, Transformer: ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = onnx, HeatMapColumnName = c.Column }).Fit(pixels)))
            .ToArray();
        var saves = cases.Select(_ => new List<double>()).ToArray();
        var atomics = cases.Select(_ => new List<double>()).ToArray();
        var loads = cases.Select(_ => new List<double>()).ToArray();
        var rewrites = cases.Select(_ => new List<double>()).ToArray();
        var graph = File.ReadAllBytes(onnx);
        var labelNames = cases[0].Transformer.Labels;
        var settings = new[] { new SavedScoringSettings("Pixels", "Score", "PredictedLabel", null, 32, false), new SavedScoringSettings("Pixels", "Score", "PredictedLabel", null, 32, false, HeatMapColumnName: "HeatMap") };
        var bytes = new long[cases.Length];

        // Round 0 is a warm-up (JIT, first temp files); the cases take turns going first, so that neither always
        // follows the other's garbage and disk writes.
        for (var round = 0; round <= rounds; round++)
        {
            foreach (var i in round % 2 == 0 ? new[] { 0, 1 } : [1, 0])
            {
                var zip = Path.Combine(folder, $"{cases[i].Name}.zip");
                var stored = Path.Combine(folder, $"{cases[i].Name}-stored.zip");
                var save = Time(() => ml.Model.Save(cases[i].Transformer, pixels.Schema, zip));
                var atomic = Time(() => ml.Model.SaveAtomically(cases[i].Transformer, pixels.Schema, stored));
                var load = Time(() => ((IDisposable)ResNetClassifierTransformer.Load(ml, stored)).Dispose());
                var rewrite = Time(() => PortableModelWriter.RewriteGraph(graph, labelNames, settings[i], withFeatures: false));
                if (round > 0)
                {
                    rewrites[i].Add(rewrite);
                    saves[i].Add(save);
                    atomics[i].Add(atomic);
                    loads[i].Add(load);
                }

                bytes[i] = new FileInfo(zip).Length;
            }
        }

        for (var i = 0; i < cases.Length; i++)
        {
            Console.WriteLine($"{$"{architecture}/{classes} {size}x{size}",-22} {cases[i].Name,-9} {Median(saves[i]),8:F3} {Median(atomics[i]),9:F3} {Median(rewrites[i]),10:F3} {Median(loads[i]),8:F3} {bytes[i],14:N0}");
            cases[i].Transformer.Dispose();
        }

        Console.WriteLine($"{"",-22} {"ratio",-9} {Median(saves[1]) / Median(saves[0]),8:F2} {Median(atomics[1]) / Median(atomics[0]),9:F2} {Median(rewrites[1]) / Median(rewrites[0]),10:F2} {Median(loads[1]) / Median(loads[0]),8:F2} {bytes[1] - bytes[0],14:+#,0;-#,0}");
    }

    private static double Time(Action action)
    {
        var watch = Stopwatch.StartNew();
        action();
        return watch.Elapsed.TotalSeconds;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
