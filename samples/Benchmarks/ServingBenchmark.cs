using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.ResNet;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;

namespace ResNetBenchmarks;

/// <summary>
/// Serving one image per request with 1, 4 and 16 concurrent clients: ResNetBatchPredictor (dynamic batching) vs a pool
/// of reused ML.NET PredictionEngines over the stock <c>mlContext.Model.Load</c> of the same zip (one engine per client,
/// as PredictionEnginePool gives each request its own) vs a new PredictionEngine per request. Direct calls in this
/// process, no HTTP: each client is a thread that reads a photo file and waits for its answer, then sends the next.
/// ResNet-34, 10 classes, at 32x32 (the sample's size) and 224x224; a fixed number of requests per case, capped in time.
/// </summary>
/// <remarks>
/// Before the cases of each size, a <see cref="ServingBudget"/> pass times what one request costs the cores on the same
/// model and photos, and prints the ceiling it puts on throughput. The goal lines set it beside the throughput the 16-client
/// latency goal needs by Little's law, so whether that goal is within the machine's reach is read from the same run.
/// </remarks>
internal sealed class ServingBenchmark : IBenchmark
{
    private const int Classes = 10;
    private static readonly int[] ClientCounts = [1, 4, 16];
    private static readonly (int Size, int Requests)[] Sizes = [(32, 480), (224, 96)];
    private static readonly TimeSpan CaseTimeLimit = TimeSpan.FromSeconds(60);

    public string Name => "serving";

    public string Description =>
        $"ResNet-34 one image per request from {string.Join('/', ClientCounts)} client threads: dynamic batching vs a pool of PredictionEngines vs an engine per request; "
        + $"requests/s and p50/p99 latency at 32x32 and 224x224, after each size's CPU budget per request and the ceiling it sets; "
        + $"[--requests-32 N] [--requests-224 N] [--max-batch N] (the predictor's MaxBatchSize); each case stops after {CaseTimeLimit.TotalSeconds} s.";

    public bool NeedsTorch => true;

    public void Run(string[] arguments)
    {
        var photos = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "photos"), "*.png").Order(StringComparer.Ordinal).ToArray();
        var folder = Path.Combine(Path.GetTempPath(), "resnetml-serving-benchmark", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        Console.WriteLine($"{CpuInfo.Summary}; {photos.Length} photos (224x224 PNG), read from disk per request");
        try
        {
            var results = new List<Result>();
            var budgets = new Dictionary<int, ServingBudget>();
            foreach (var (size, fallback) in Sizes)
            {
                var requests = BenchmarkArguments.PositiveInt(arguments, $"--requests-{size}", fallback);
                var maxBatch = BenchmarkArguments.PositiveInt(arguments, "--max-batch", new ResNetPredictorOptions().MaxBatchSize);
                var zip = SaveModel(folder, size, photos);
                Console.WriteLine($"\n{size}x{size}: {requests} requests per case; predictor MaxBatchSize {maxBatch}");
                var budget = budgets[size] = ServingBudget.Measure(zip, photos, maxBatch);
                budget.Print();
                Console.WriteLine($"{"clients",7} {"case",-22} {"done",5} {"requests/s",11} {"p50 ms",8} {"p99 ms",8}");
                foreach (var clients in ClientCounts)
                {
                    foreach (var kind in Enum.GetValues<Kind>())
                    {
                        var result = Measure(kind, zip, photos, clients, requests, maxBatch) with { Size = size };
                        results.Add(result);
                        Console.WriteLine($"{clients,7} {Label(kind),-22} {result.Done,5} {result.Throughput,11:F1} {result.P50,8:F2} {result.P99,8:F2}");
                    }
                }
            }

            PrintGoals(results, budgets);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private enum Kind
    {
        Batching,
        EnginePool,
        EnginePerRequest,
    }

    private static string Label(Kind kind) => kind switch
    {
        Kind.Batching => "dynamic batching",
        Kind.EnginePool => "PredictionEngine pool",
        _ => "engine per request",
    };

    private static void PrintGoals(List<Result> results, Dictionary<int, ServingBudget> budgets)
    {
        Result Find(int size, int clients, Kind kind) => results.Single(r => r.Size == size && r.Clients == clients && r.Kind == kind);
        var batch16 = Find(32, 16, Kind.Batching);
        var pool16 = Find(32, 16, Kind.EnginePool);
        var single = Find(32, 1, Kind.Batching);
        var ratio = batch16.Throughput / pool16.Throughput;
        var latency = batch16.P99 / single.P50;
        Console.WriteLine();
        Console.WriteLine($"goal 32x32, 16 clients: throughput >= 1.5x the pool's: {ratio:F2}x -> {(ratio >= 1.5 ? "met" : "not met")}");
        Console.WriteLine($"goal 32x32, 16 clients: p99 < 2x single-client p50 ({single.P50:F2} ms): {batch16.P99:F2} ms = {latency:F2}x -> {(latency < 2 ? "met" : "not met")}");

        // Little's law: with every client always waiting, mean latency = clients / throughput; so even the mean (let alone
        // the p99) stays under 2x the single-client p50 only above the throughput printed, which the budget's ceiling caps.
        var needed = batch16.Clients / (2 * single.P50 / 1000);
        var budget = budgets[32];
        Console.WriteLine(
            $"  by Little's law even the mean stays under 2x {single.P50:F2} ms only above {batch16.Clients} / (2 x {single.P50:F2} ms) = {needed:F0} requests/s: "
            + $"{needed / budget.Ceiling:F2}x the CPU budget's ceiling of {budget.Ceiling:F0} requests/s ({budget.CpuTimeCeiling:F0} with the network at its CPU time); "
            + $"this run gave {batch16.Throughput:F1}");
        var ratio224 = Find(224, 16, Kind.Batching).Throughput / Find(224, 16, Kind.EnginePool).Throughput;
        Console.WriteLine($"goal 224x224, 16 clients: throughput >= the pool's: {ratio224:F2}x -> {(ratio224 >= 1 ? "met" : "not met")}");
    }

    /// <summary>A seeded ResNet-34 exported by our exporter, in the sample's pipeline (LoadImages, ResizeImages, ExtractPixels, classifier), saved as a zip.</summary>
    private static string SaveModel(string folder, int size, string[] photos)
    {
        var onnx = Path.Combine(folder, $"resnet34-{size}.onnx");
        var labels = Enumerable.Range(0, Classes).Select(i => $"class{i}").ToArray();
        TorchSharp.torch.manual_seed(1);
        using (var network = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet34, Classes)))
        {
            network.eval();
            ResNetOnnxExporter.Export(network, onnx, new OnnxExportOptions { Labels = labels, InputHeight = size, InputWidth = size, IncludeFeatures = false });
        }

        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(photos.Select(p => new ImageInput { ImagePath = p }));
        var pipeline = ml.Transforms.LoadImages("Image", imageFolder: null, nameof(ImageInput.ImagePath))
            .Append(ml.Transforms.ResizeImages("Image", size, size, "Image"))
            .Append(ml.Transforms.ExtractPixels("Features", "Image", scaleImage: 1f / 255))
            .Append(ml.Transforms.ResNetClassify(new ResNetClassifierOptions { ModelPath = onnx }));
        var model = pipeline.Fit(data);
        var zip = Path.Combine(folder, $"model-{size}.zip");
        ml.Model.Save(model, data.Schema, zip);
        (model as IDisposable)?.Dispose();
        return zip;
    }

    private static Result Measure(Kind kind, string zip, string[] photos, int clients, int requests, int maxBatch)
    {
        var ml = new MLContext(1);
        using var predictor = kind == Kind.Batching
            ? new ResNetBatchPredictor(ml, ResNetClassifierTransformer.Load(ml, zip), new ResNetPredictorOptions { MaxBatchSize = maxBatch })
            : null;
        var stock = kind == Kind.Batching ? null : ml.Model.Load(zip, out _);
        var shared = new PredictionEngineOptions { OwnsTransformer = false };

        // One client's way of answering one request; the pool's engines are made once per client, before the clock.
        Func<string, string> Client(int index)
        {
            switch (kind)
            {
                case Kind.Batching:
                    return path => predictor!.PredictAsync(File.ReadAllBytes(path)).GetAwaiter().GetResult().PredictedLabel;
                case Kind.EnginePool:
                    var engine = ml.Model.CreatePredictionEngine<ImageInput, ScoreOutput>(stock!, shared);
                    return path => Best(engine.Predict(new ImageInput { ImagePath = path }));
                default:
                    return path =>
                    {
                        using var fresh = ml.Model.CreatePredictionEngine<ImageInput, ScoreOutput>(stock!, shared);
                        return Best(fresh.Predict(new ImageInput { ImagePath = path }));
                    };
            }
        }

        var handlers = Enumerable.Range(0, clients).Select(Client).ToArray();

        // Warm-up, all clients at once: JIT, ONNX Runtime's first-run allocations at the batch sizes to come, and the
        // predictor's image decoders (one per concurrent caller, made on first use).
        RunClients(clients, c => handlers[c](photos[c % photos.Length]));

        var latencies = new List<double>[clients];
        var next = -1;
        var clock = Stopwatch.StartNew();
        RunClients(clients, c =>
        {
            var mine = latencies[c] = [];
            int request;
            while ((request = Interlocked.Increment(ref next)) < requests && clock.Elapsed < CaseTimeLimit)
            {
                var started = Stopwatch.GetTimestamp();
                handlers[c](photos[request % photos.Length]);
                mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        });

        var elapsed = clock.Elapsed.TotalSeconds;
        (stock as IDisposable)?.Dispose();
        var all = latencies.SelectMany(l => l).Order().ToArray();
        return new Result(0, clients, kind, all.Length, all.Length / elapsed, Percentile(all, 0.50), Percentile(all, 0.99));
    }

    /// <summary>Runs <paramref name="client"/> on a thread of its own per client (as a server's request threads) and waits for all.</summary>
    private static void RunClients(int clients, Action<int> client)
    {
        var threads = Enumerable.Range(0, clients).Select(c => new Thread(() => client(c))).ToArray();
        foreach (var thread in threads)
        {
            thread.Start();
        }

        foreach (var thread in threads)
        {
            thread.Join();
        }
    }

    private static string Best(ScoreOutput output)
    {
        var best = 0;
        for (var i = 1; i < output.Score.Length; i++)
        {
            best = output.Score[i] > output.Score[best] ? i : best;
        }

        return best.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    private static double Percentile(double[] sorted, double fraction) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(fraction * sorted.Length) - 1)];

    private sealed record Result(int Size, int Clients, Kind Kind, int Done, double Throughput, double P50, double P99);

    private sealed class ImageInput
    {
        public string ImagePath { get; set; } = "";
    }

    private sealed class ScoreOutput
    {
        public float[] Score { get; set; } = [];
    }
}
