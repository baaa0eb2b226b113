using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.ResNet;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Native;
using Microsoft.ML.ResNet.Scoring;
using Microsoft.ML.ResNet.Tests.Scoring;

namespace ResNetBenchmarks;

/// <summary>
/// Saving a 1000-class ResNet-34 pipeline (the k-means chain of before vs today's), and the time from process
/// start to the first answer in a fresh process, for stock <c>mlContext.Model.Load</c> and for our batched
/// loader (from the optimized graph an earlier load kept, and without it), each with today's settings and the
/// improved ones, side by side.
/// </summary>
internal sealed class StartupBenchmark : IBenchmark
{
    private const int DefaultRounds = 3;
    private const int Size = 224;
    private const int Classes = 1000;
    private const string PhaseOption = "--phase";
    private const string HugePagesVariable = "GLIBC_TUNABLES";
    private const string HugePagesValue = "glibc.malloc.hugetlb=1";

    /// <summary>
    /// The phases run a second time with glibc asking for transparent huge pages on its large allocations. A first answer
    /// touches a few hundred MB of fresh memory (ONNX Runtime's session for this network peaks near 370 MB), and on some
    /// VMs a fresh 4 KiB page costs 10 us or more (11 us on the AMD EPYC family 26 VM of 2026-12-04), so the number of
    /// page faults, not the CPU, can set the first answer's time. The variable must be set before the process starts.
    /// </summary>
    private static readonly string[] HugePagePhases = ["stock-stored", "ours-stored"];

    /// <summary>
    /// Our loader keeps ONNX Runtime's optimized graph of the network for the next process (OptimizedModelCache): every
    /// case of ours after the first in a round finds it. This phase runs once more per round with the entry deleted
    /// first: a machine's first load of the model, which also writes the entry.
    /// </summary>
    private const string ColdCachePhase = "ours-stored";

    public string Name => "startup";

    public string Description =>
        $"ResNet-34/1000 224x224: model.zip save time (k-means chain of before vs today's) and process start to first answer, stock Model.Load vs our Load on Model.Save's and SaveAtomically's zip, our Load plus a ResNetBatchPredictor (a server's start), and stock on the same chain with a weightless network (the floor); ours again on a machine's first load (no cached optimized graph); both loaders on SaveAtomically's zip again with glibc's huge pages (GLIBC_TUNABLES=glibc.malloc.hugetlb=1); each case in [--rounds {DefaultRounds}] fresh processes; [--skip-before] skips the k-means save.";

    public bool NeedsTorch => false;

    public void Run(string[] arguments)
    {
        var phase = BenchmarkArguments.Value(arguments, PhaseOption);
        if (phase == "breakdown")
        {
            StartupChild.Breakdown(BenchmarkArguments.Value(arguments, "--model")!);
            return;
        }

        if (phase is not null)
        {
            StartupChild.Run(phase, BenchmarkArguments.Value(arguments, "--model")!, BenchmarkArguments.Value(arguments, "--image")!);
            return;
        }

        var rounds = BenchmarkArguments.PositiveInt(arguments, "--rounds", DefaultRounds);
        TorchNativeLoader.EnsureLoaded();
        var folder = Path.Combine(Path.GetTempPath(), "resnetml-startup-benchmark", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var onnx = Path.Combine(folder, "resnet34.onnx");
            Export(onnx);
            var image = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "photos"), "*.png").Order(StringComparer.Ordinal).First();
            Console.WriteLine($"model: ResNet-34, {Classes} classes, {Size}x{Size}, {new FileInfo(onnx).Length:N0} bytes of ONNX; {Environment.ProcessorCount} cores; image {Path.GetFileName(image)}");
            var (zip, stored) = MeasureSave(folder, onnx, image, arguments.Contains("--skip-before"));
            MeasureSessions(onnx, rounds);
            MeasureStartup(zip, stored, image, rounds);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static void Export(string path)
    {
        using var network = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet34, Classes));
        var labels = Enumerable.Range(0, Classes).Select(i => $"class {i:D4}").ToArray();
        ResNetOnnxExporter.Export(network, path, new OnnxExportOptions { Labels = labels });
    }

    private static (string Deflated, string Stored) MeasureSave(string folder, string onnx, string image, bool skipBefore)
    {
        var ml = new MLContext(1);
        var images = ml.Data.LoadFromEnumerable(new[] { new StartupChild.ImageInput { ImagePath = image } });
        var pipeline = ml.Transforms.LoadImages("Image", "", nameof(StartupChild.ImageInput.ImagePath))
            .Append(ml.Transforms.ResizeImages("Image", Size, Size))
            .Append(ml.Transforms.ExtractPixels("Pixels", "Image", scaleImage: 1f / 255))
            .Append(ml.Transforms.ResNet34Classify("PredictedLabel", "Pixels", onnx));
        var model = pipeline.Fit(images);
        var zip = Path.Combine(folder, "model.zip");

        // Warm-up: the first save also pays for JIT; the figures are from the second.
        ml.Model.Save(model, images.Schema, zip);
        var today = Time(() => ml.Model.Save(model, images.Schema, zip));
        var todayCpu = LastCpu;
        var zipBytes = new FileInfo(zip).Length;
        var stored = Path.Combine(folder, "model-stored.zip");
        ml.Model.SaveAtomically(model, images.Schema, stored);
        var atomic = Time(() => ml.Model.SaveAtomically(model, images.Schema, stored));
        var atomicCpu = LastCpu;
        var storedBytes = new FileInfo(stored).Length;

        // Writing the bytes alone: ML.NET saving a bare OnnxTransformer over the same rewritten graph, built
        // beforehand (ML.NET stages the entry in a temp file, then deflates it into the zip).
        var rewritten = PortableModelWriter.RewriteGraph(File.ReadAllBytes(onnx), ((ResNetClassifierTransformer)model.LastTransformer).Labels, Settings, withFeatures: false);
        var bare = Path.Combine(folder, "bare.onnx");
        File.WriteAllBytes(bare, rewritten);
        var pixels = model.Transform(images);
        using var bareTransformer = ml.Transforms.ApplyOnnxModel(["resnetml_flat_probabilities"], ["Pixels"], bare).Fit(pixels);
        var bytesOnly = Time(() => ml.Model.Save(bareTransformer, pixels.Schema, Path.Combine(folder, "bytes.zip")));
        var bytesOnlyCpu = LastCpu;

        // Our own steps inside today's save, apart.
        var labels = ((ResNetClassifierTransformer)model.LastTransformer).Labels;
        var original = File.ReadAllBytes(onnx);
        var rewrite = Time(() => PortableModelWriter.RewriteGraph(original, labels, Settings, withFeatures: false));
        var rewriteCpu = LastCpu;
        var staged = Path.Combine(folder, "staged.onnx");
        File.WriteAllBytes(staged, rewritten);
        var build = Time(() => PortableModelWriter.BuildChain(ml, staged, labels, 3 * Size * Size, Settings).Dispose());
        var buildCpu = LastCpu;

        // Before: the chain with the k-means argmax, over the same rewritten graph.
        var before = skipBefore ? double.NaN : Time(() =>
        {
            File.WriteAllBytes(staged, PortableModelWriter.RewriteGraph(File.ReadAllBytes(onnx), ((ResNetClassifierTransformer)model.LastTransformer).Labels, Settings, withFeatures: false));
            using var chain = KMeansChainReference.Build(ml, staged, ((ResNetClassifierTransformer)model.LastTransformer).Labels, 3 * Size * Size, "Pixels");
            ml.Model.Save(chain, model.Transform(images).Schema, Path.Combine(folder, "kmeans.zip"));
        });
        var beforeCpu = skipBefore ? double.NaN : LastCpu;
        ((IDisposable)model.LastTransformer).Dispose();

        Console.WriteLine();
        Console.WriteLine($"{"save of model.zip (1000 classes)",-52} {"wall s",8} {"cpu s",8}");
        Console.WriteLine($"{"before: k-means argmax chain",-52} {before,8:F2} {beforeCpu,8:F2}");
        Console.WriteLine($"{"today: argmax bits + Naive Bayes decoder (whole zip)",-52} {today,8:F2} {todayCpu,8:F2}");
        Console.WriteLine($"{"SaveAtomically: the same, ONNX entry then stored",-52} {atomic,8:F2} {atomicCpu,8:F2}");
        Console.WriteLine($"{"  ML.NET saving a bare OnnxTransformer of them",-52} {bytesOnly,8:F2} {bytesOnlyCpu,8:F2}");
        Console.WriteLine($"{"  today beyond writing the bytes (a difference)",-52} {today - bytesOnly,8:F2} {todayCpu - bytesOnlyCpu,8:F2}");
        Console.WriteLine($"{"    alone: graph rewrite (parse, add, serialize)",-52} {rewrite,8:F2} {rewriteCpu,8:F2}");
        Console.WriteLine($"{"    alone: building the built-in chain",-52} {build,8:F2} {buildCpu,8:F2}");
        Console.WriteLine($"save: before {before:F2} s ({beforeCpu:F2} s cpu); today {today:F2} s ({todayCpu:F2} s cpu, {zipBytes:N0} bytes), {today - bytesOnly:F2} s ({todayCpu - bytesOnlyCpu:F2} s cpu) beyond writing the bytes; SaveAtomically {atomic:F2} s ({atomicCpu:F2} s cpu, {storedBytes:N0} bytes)");
        return (zip, stored);
    }

    private static SavedScoringSettings Settings => new("Pixels", "Score", "PredictedLabel", null, 32, false);

    /// <summary>
    /// ONNX Runtime alone, in this process: session creation, first run and later runs per optimization level; then at
    /// ONNX Runtime's default level (what a stock load uses) from graphs pre-optimized offline at the portable levels.
    /// </summary>
    private static void MeasureSessions(string onnx, int rounds)
    {
        var original = File.ReadAllBytes(onnx);
        var levels = new[] { GraphOptimizationLevel.ORT_DISABLE_ALL, GraphOptimizationLevel.ORT_ENABLE_BASIC, GraphOptimizationLevel.ORT_ENABLE_EXTENDED, GraphOptimizationLevel.ORT_ENABLE_ALL };
        var cases = levels.Select(l => (Name: l.ToString(), Level: l, Bytes: original))
            .Concat(new[] { GraphOptimizationLevel.ORT_ENABLE_BASIC, GraphOptimizationLevel.ORT_ENABLE_EXTENDED }
                .Select(l => (Name: $"ALL, pre-optimized {l.ToString()["ORT_ENABLE_".Length..]}", Level: GraphOptimizationLevel.ORT_ENABLE_ALL, Bytes: PreOptimized(onnx, l))))
            .ToArray();
        var input = new float[3 * Size * Size];
        var times = cases.ToDictionary(c => c.Name, _ => new List<(double Create, double First, double Steady)>());
        for (var round = 0; round < rounds; round++)
        {
            foreach (var (name, level, bytes) in cases)
            {
                using var options = new SessionOptions { GraphOptimizationLevel = level, IntraOpNumThreads = Environment.ProcessorCount };
                var watch = Stopwatch.StartNew();
                using var session = new InferenceSession(bytes, options);
                var create = watch.Elapsed.TotalSeconds;
                var inputName = session.InputMetadata.Keys.Single();
                using var value = OrtValue.CreateTensorValueFromMemory(input, [1, 3, Size, Size]);
                double RunOnce()
                {
                    var run = Stopwatch.StartNew();
                    using var outputs = session.Run(new RunOptions(), [inputName], [value], [OnnxContract.ProbabilitiesOutput]);
                    return run.Elapsed.TotalSeconds;
                }

                var first = RunOnce();
                var steady = Enumerable.Range(0, 5).Select(_ => RunOnce()).Order().ElementAt(2);
                times[name].Add((create, first, steady));
            }
        }

        Console.WriteLine();
        Console.WriteLine($"ONNX Runtime session for this graph, in-process, median of {rounds} (seconds)");
        Console.WriteLine($"{"optimization level",-30} {"create",8} {"first run",10} {"later run",10}");
        foreach (var (name, _, _) in cases)
        {
            var list = times[name];
            double Median(Func<(double Create, double First, double Steady), double> pick) => list.Select(pick).Order().ElementAt(list.Count / 2);
            Console.WriteLine($"{name,-30} {Median(t => t.Create),8:F3} {Median(t => t.First),10:F3} {Median(t => t.Steady),10:F3}");
        }
    }

    /// <summary>The graph as ONNX Runtime writes it after optimizing it offline at <paramref name="level"/>.</summary>
    private static byte[] PreOptimized(string onnx, GraphOptimizationLevel level)
    {
        var target = Path.ChangeExtension(onnx, $".{level}.onnx");
        using (var options = new SessionOptions { GraphOptimizationLevel = level, OptimizedModelFilePath = target })
        using (new InferenceSession(onnx, options))
        {
        }

        return File.ReadAllBytes(target);
    }

    private static void MeasureStartup(string zip, string stored, string image, int rounds)
    {
        var cases = StartupChild.Phases.Select(phase => new StartupCase(phase, HugePages: false))
            .Append(new StartupCase(ColdCachePhase, HugePages: false, ColdCache: true))
            .Concat(HugePagePhases.Select(phase => new StartupCase(phase, HugePages: true)))
            .ToArray();
        var cachedGraph = OptimizedModelCache.EntryPath(SavedModelReader.Read(stored).Single().Onnx);
        var results = cases.ToDictionary(c => c, _ => new List<StartupChild.Report>());
        var weightless = Weightless(stored);
        string ZipFor(string phase) => phase switch
        {
            _ when phase.EndsWith("-stored", StringComparison.Ordinal) => stored,
            _ when phase.EndsWith("-weightless", StringComparison.Ordinal) => weightless,
            _ => zip,
        };

        // Interleaved rounds: load from other processes on the machine hits every case alike.
        for (var round = 0; round < rounds; round++)
        {
            foreach (var startupCase in cases)
            {
                if (startupCase.ColdCache && cachedGraph is not null)
                {
                    File.Delete(cachedGraph);
                }

                results[startupCase].Add(RunChild(startupCase, ZipFor(startupCase.Phase), image));
            }
        }

        Console.WriteLine();
        Console.WriteLine($"process start to first answer, median of {rounds} fresh processes (seconds; wall = as the parent sees it)");
        Console.WriteLine($"{"case",-50} {"wall",6} {"runtime",8} {"load",6} {"engine",7} {"predict",8} {"answer",7} {"cpu",6}");
        foreach (var startupCase in cases)
        {
            var reports = results[startupCase];
            double Median(Func<StartupChild.Report, double> pick) => reports.Select(pick).Order().ElementAt(reports.Count / 2);
            Console.WriteLine($"{startupCase.Label,-50} {Median(r => r.Wall),6:F2} {Median(r => r.Runtime),8:F2} {Median(r => r.Load),6:F2} {Median(r => r.Engine),7:F2} {Median(r => r.Predict),8:F2} {Median(r => r.Answer),7:F2} {Median(r => r.Cpu),6:F2}");
        }

        Console.WriteLine();
        foreach (var (name, file) in new[] { ("Model.Save's zip", zip), ("SaveAtomically's zip", stored) })
        {
            var (code, breakdown, error) = ChildProcess.RunSelf(["startup", PhaseOption, "breakdown", "--model", file]);
            var line = breakdown.Split('\n').SingleOrDefault(l => l.StartsWith("STARTUP", StringComparison.Ordinal))
                ?? throw new InvalidOperationException($"the breakdown child exited with {code}:\n{breakdown}\n{error}");
            Console.WriteLine($"where stock loading of {name} spends its time, one fresh process (seconds): {line["STARTUP ".Length..]}");
        }

        foreach (var startupCase in cases)
        {
            Console.WriteLine($"startup {startupCase.Name}: wall {string.Join(" ", results[startupCase].Select(r => r.Wall.ToString("F2", CultureInfo.InvariantCulture)))} s; cpu {string.Join(" ", results[startupCase].Select(r => r.Cpu.ToString("F2", CultureInfo.InvariantCulture)))} s (label {results[startupCase][0].Label})");
        }
    }

    /// <summary>
    /// <paramref name="stored"/> with each network replaced by the weightless stub our loader hands ML.NET (the saved
    /// graph's input and outputs, constant answers): every step of a stock first answer but the network's bytes.
    /// </summary>
    private static string Weightless(string stored)
    {
        var path = Path.Combine(Path.GetDirectoryName(stored)!, "weightless.zip");
        using var copy = SavedModelReader.WithReplacedOnnx(stored, PortableModelWriter.StubsOfSaved(SavedModelReader.Read(stored)));
        using var file = File.Create(path);
        copy.CopyTo(file);
        return path;
    }

    private static StartupChild.Report RunChild(StartupCase startupCase, string zip, string image)
    {
        var environment = startupCase.HugePages ? new Dictionary<string, string> { [HugePagesVariable] = HugePagesValue } : null;
        var watch = Stopwatch.StartNew();
        var (exitCode, output, error) = ChildProcess.RunSelf(["startup", PhaseOption, startupCase.Phase, "--model", zip, "--image", image], environment);
        var wall = watch.Elapsed.TotalSeconds;
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"startup child '{startupCase.Name}' exited with {exitCode}:\n{output}\n{error}");
        }

        return StartupChild.Report.Parse(output, wall);
    }

    /// <summary>Wall seconds of <paramref name="action"/>; its processor seconds (all threads of this process) go to <see cref="LastCpu"/>.</summary>
    private static double Time(Action action)
    {
        var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        action();
        var wall = watch.Elapsed.TotalSeconds;
        process.Refresh();
        LastCpu = (process.TotalProcessorTime - cpu).TotalSeconds;
        return wall;
    }

    private static double LastCpu { get; set; }

    /// <summary>One case of the table: a child phase, with glibc's huge pages or without, with our loader's cached
    /// graph or without (<see cref="ColdCachePhase"/>).</summary>
    private sealed record StartupCase(string Phase, bool HugePages, bool ColdCache = false)
    {
        public string Name => Phase + (HugePages ? "+hugepages" : "") + (ColdCache ? "+cold-cache" : "");

        public string Label => StartupChild.Describe(Phase) + (HugePages ? ", huge pages" : "") + (ColdCache ? ", first load (no cached graph)" : "");
    }
}
