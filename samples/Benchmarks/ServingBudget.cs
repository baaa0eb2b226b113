using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.ResNet;
using Microsoft.ML.ResNet.Scoring;

namespace ResNetBenchmarks;

/// <summary>
/// What one served request costs the CPU, stage by stage, on the serving benchmark's saved model and photos: reading the
/// photo file, decoding it, resizing it and extracting its pixels (the predictor's own <see cref="ImagePixelReader"/>), and
/// the network per image when the predictor runs a full batch. Each stage alone, one request (or batch) at a time, medians.
/// </summary>
/// <remarks>
/// At 16 clients the latency goal is bounded by throughput (Little's law: mean latency = clients / throughput), and
/// throughput by what a request costs the cores; measured in the same run as the cases, the budget lets the goal lines
/// say "needs X requests/s, the cores give at most Y" from one run's figures instead of a hand measurement on another
/// day. The network is timed through the predictor itself, so its session, thread settings and batch buffers are the
/// ones served with: one caller queues <c>MaxBatchSize</c> images under a long <c>MaxWait</c>, the last arrival starts
/// one ONNX Runtime run, and the clock runs from that arrival to the last answer. Its core time is that wall time times
/// the session's intra-op threads, counting both busy for the whole run; the process's CPU time over the same span is
/// printed beside it as a check, since other work on the machine stretches the wall time and so shrinks the ceiling.
/// The ceiling leaves out the batcher's hand-offs, the garbage collector and thread switches, so a real run on a quiet
/// machine stays below it; and 16 clients form batches of at most 16, while the network here runs the full batch.
/// </remarks>
/// <param name="ReadFile">Milliseconds to read one photo file.</param>
/// <param name="Decode">Milliseconds to decode it into an <see cref="MLImage"/>.</param>
/// <param name="ResizeAndPixels">Milliseconds for the predictor's resize and pixel extraction.</param>
/// <param name="BatchWall">Wall milliseconds of one full batch through the predictor, from its last arrival to its last answer.</param>
/// <param name="BatchCpu">The process's CPU milliseconds over the same span.</param>
/// <param name="BatchSize">Images in the batch: the predictor's <c>MaxBatchSize</c>.</param>
/// <param name="IntraOpThreads">The predictor session's intra-op threads.</param>
internal sealed record ServingBudget(double ReadFile, double Decode, double ResizeAndPixels, double BatchWall, double BatchCpu, int BatchSize, int IntraOpThreads)
{
    // Each stage repeats for about StageTime, at least MinSamples times (a 224x224 batch takes a second or more) and at
    // most MaxSamples times: a few seconds per image size in all.
    private const int MinSamples = 3;
    private const int MaxSamples = 300;
    private static readonly TimeSpan StageTime = TimeSpan.FromSeconds(1);

    /// <summary>Core-milliseconds of the network per image: the batch's wall time times its intra-op threads, over its images.</summary>
    public double NetworkCoreMs => BatchWall * IntraOpThreads / BatchSize;

    /// <summary>The process's CPU milliseconds of the network per image, over the same runs.</summary>
    public double NetworkCpuMs => BatchCpu / BatchSize;

    /// <summary>Core-milliseconds per request: every stage, the network at its core time.</summary>
    public double PerRequestCoreMs => ImageMs + NetworkCoreMs;

    /// <summary>Requests per second the logical cores could serve if they did nothing but this budget.</summary>
    public double Ceiling => Environment.ProcessorCount * 1000 / PerRequestCoreMs;

    /// <summary>The same ceiling with the network at the process's CPU time instead of its wall time times its threads.</summary>
    public double CpuTimeCeiling => Environment.ProcessorCount * 1000 / (ImageMs + NetworkCpuMs);

    /// <summary>Milliseconds per request before the network: reading, decoding, resizing and extracting pixels.</summary>
    private double ImageMs => ReadFile + Decode + ResizeAndPixels;

    /// <summary>Times each stage of a request on <paramref name="zip"/>'s classifier and the photos, with a predictor of <paramref name="maxBatch"/>.</summary>
    /// <exception cref="InvalidOperationException">The predictor split the full batch into several runs.</exception>
    public static ServingBudget Measure(string zip, string[] photos, int maxBatch)
    {
        var ml = new MLContext(1);
        var loaded = ResNetClassifierTransformer.Load(ml, zip);

        // The longest wait allowed, so the batcher holds the first image until the caller has queued the whole batch.
        var wait = Defaults.Predictor.LongestWait;
        using var predictor = new ResNetBatchPredictor(ml, loaded, new ResNetPredictorOptions { MaxBatchSize = maxBatch, MaxWait = wait });
        (loaded as IDisposable)?.Dispose();

        var bytes = photos.Select(File.ReadAllBytes).ToArray();
        var reader = new ImagePixelReader(predictor.ImageHeight, predictor.ImageWidth);
        var readFile = Median(i => Time(() => File.ReadAllBytes(photos[i % photos.Length])), photos.Length);
        var decode = Median(i => Time(() => DecodeLikeReader(bytes[i % bytes.Length]).Dispose()), photos.Length);

        // A freshly decoded image each time, as each served request brings its own (the decoding is timed above, not
        // here). An image already at the model's size is copied by the reader first, as the predictor does it.
        var resize = Median(
            i =>
            {
                using var image = DecodeLikeReader(bytes[i % bytes.Length]);
                return Time(() => reader.Read(image, "image"));
            },
            photos.Length);

        // The batch is queued as the benchmark's clients send requests (bytes); the last arrival fills it and starts the
        // run at once, so the clocks, started as that call returns, miss only the batcher's wake-up. The process's CPU
        // time over the same span checks the wall-time estimate: other work on the machine stretches the wall time, not it.
        var cpuTimes = new List<double>();
        double FullBatch(int repetition)
        {
            var runsBefore = predictor.Runs;
            var answers = new Task<ResNetPrediction>[maxBatch];
            for (var i = 0; i < maxBatch; i++)
            {
                answers[i] = predictor.PredictAsync(bytes[i % bytes.Length]);
            }

            var cpuBefore = Environment.CpuUsage.TotalTime;
            var started = Stopwatch.GetTimestamp();
            Task.WaitAll(answers);
            var wall = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            cpuTimes.Add((Environment.CpuUsage.TotalTime - cpuBefore).TotalMilliseconds);
            return predictor.Runs == runsBefore + 1
                ? wall
                : throw new InvalidOperationException(
                    $"The budget's batch of {maxBatch} images ran in {predictor.Runs - runsBefore} runs, not one: queuing it took longer than MaxWait ({wait.TotalSeconds} s).");
        }

        FullBatch(0);
        cpuTimes.Clear();
        var batchWall = Median(FullBatch, warmUps: 0);
        var batchCpu = Median(cpuTimes);

        // The predictor's session has one intra-op thread per logical CPU (it leaves IntraOpNumThreads to OnnxScoringSession's default).
        return new ServingBudget(readFile, decode, resize, batchWall, batchCpu, maxBatch, Environment.ProcessorCount);
    }

    /// <summary>Prints one line per stage, the total and the ceiling.</summary>
    public void Print()
    {
        Console.WriteLine("budget per request, one thread, medians (network: wall time x intra-op threads, both counted busy for the whole run):");
        Console.WriteLine($"  {"read photo file",-24} {ReadFile,8:F3} ms");
        Console.WriteLine($"  {"decode PNG (MLImage)",-24} {Decode,8:F3} ms");
        Console.WriteLine($"  {"resize + extract pixels",-24} {ResizeAndPixels,8:F3} ms");
        Console.WriteLine(
            $"  {"network",-24} {NetworkCoreMs,8:F3} core-ms per image (batch of {BatchSize}: {BatchWall:F2} ms wall x {IntraOpThreads} intra-op threads; "
            + $"the process's CPU time in the run: {NetworkCpuMs:F3} ms per image)");
        Console.WriteLine(
            $"  {"per request",-24} {PerRequestCoreMs,8:F3} core-ms -> ceiling {Environment.ProcessorCount} logical cores / {PerRequestCoreMs:F3} core-ms = {Ceiling:F0} requests/s "
            + $"(with the network at its CPU time: {CpuTimeCeiling:F0} requests/s)");
    }

    /// <summary>The median of <paramref name="sampleMs"/>'s results after <paramref name="warmUps"/> calls not counted.</summary>
    private static double Median(Func<int, double> sampleMs, int warmUps)
    {
        for (var i = 0; i < warmUps; i++)
        {
            sampleMs(i);
        }

        var samples = new List<double>();
        var clock = Stopwatch.StartNew();
        while (samples.Count < MinSamples || (samples.Count < MaxSamples && clock.Elapsed < StageTime))
        {
            samples.Add(sampleMs(samples.Count));
        }

        return Median(samples);
    }

    private static double Median(List<double> samples)
    {
        samples.Sort();
        return samples[samples.Count / 2];
    }

    private static double Time(Action step)
    {
        var started = Stopwatch.GetTimestamp();
        step();
        return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }

    /// <summary>Decodes as <see cref="ImagePixelReader"/> does: from a copy of the bytes, in a read-only stream.</summary>
    private static MLImage DecodeLikeReader(byte[] encoded) => MLImage.CreateFromStream(new MemoryStream(encoded.AsSpan().ToArray(), writable: false));
}
