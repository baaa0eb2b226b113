using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.ResNet;

namespace ResNetBenchmarks;

/// <summary>
/// The fresh process of the startup benchmark: loads a model zip, makes a PredictionEngine, predicts one image,
/// and prints the times since the process started. Touches neither TorchSharp nor the exporter.
/// </summary>
internal static class StartupChild
{
    /// <summary>The cases, in the order they are printed: loader, then zip ("-stored": written by SaveAtomically, its ONNX entry
    /// stored uncompressed; otherwise by <c>mlContext.Model.Save</c>, deflated; "-weightless": SaveAtomically's zip with the
    /// network replaced by our loader's weightless stub, the same chain and columns, so its first answer is the floor a
    /// stock load pays whatever the network's size; "predictor": our Load, then a <see cref="ResNetBatchPredictor"/> over it
    /// answering the image's bytes, what a server such as samples/WebApp does when it starts).</summary>
    public static readonly string[] Phases = ["stock", "stock-stored", "ours", "ours-stored", "predictor-stored", "stock-weightless"];

    private const string Marker = "STARTUP";

    /// <summary>A table label for <paramref name="phase"/>.</summary>
    public static string Describe(string phase) => phase switch
    {
        "stock" => "stock Model.Load, Model.Save's zip",
        "stock-stored" => "stock Model.Load, SaveAtomically's zip",
        "ours" => "our Load, Model.Save's zip",
        "ours-stored" => "our Load, SaveAtomically's zip",
        "predictor-stored" => "our Load + ResNetBatchPredictor, SaveAtomically's",
        "stock-weightless" => "stock Model.Load, same chain, weightless net",
        _ => phase,
    };


    /// <summary>
    /// Where stock loading spends its time, in a fresh process: the ONNX entry inflated from the zip, written to a
    /// temp file (as OnnxTransformer does), a session at ONNX Runtime's default level from that file, then
    /// <c>Model.Load</c> twice: the first pays for JIT and first use, the second only for the work itself.
    /// </summary>
    public static void Breakdown(string model)
    {
        var started = Process.GetCurrentProcess().StartTime;
        var watch = Stopwatch.StartNew();
        double Lap()
        {
            var lap = watch.Elapsed.TotalSeconds;
            watch.Restart();
            return lap;
        }

        var runtime = (DateTime.Now - started).TotalSeconds;
        byte[] bytes;
        using (var zip = System.IO.Compression.ZipFile.OpenRead(model))
        {
            var entry = zip.Entries.First(e => e.Name == "OnnxModel");
            using var stream = entry.Open();
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            // ML.NET writes the bytes behind an int32 length.
            bytes = memory.ToArray()[4..];
        }

        var inflate = Lap();
        var file = Path.Combine(Path.GetTempPath(), Path.GetRandomFileName());
        File.WriteAllBytes(file, bytes);
        var write = Lap();
        new Microsoft.ML.OnnxRuntime.InferenceSession(file).Dispose();
        var session = Lap();
        File.Delete(file);
        Lap();
        var ml = new MLContext(1);
        (ml.Model.Load(model, out _) as IDisposable)?.Dispose();
        var coldLoad = Lap();
        (ml.Model.Load(model, out _) as IDisposable)?.Dispose();
        var warmLoad = Lap();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{Marker} runtime={runtime:F3} inflate={inflate:F3} write={write:F3} session={session:F3} cold-load={coldLoad:F3} warm-load={warmLoad:F3}"));
    }

    /// <summary>Runs one phase and prints its <see cref="Report"/> line.</summary>
    public static void Run(string phase, string model, string image)
    {
        var started = Process.GetCurrentProcess().StartTime;
        double Since() => (DateTime.Now - started).TotalSeconds;
        var runtime = Since();

        if (phase.StartsWith("predictor", StringComparison.Ordinal))
        {
            RunPredictor(model, image, Since, runtime);
            return;
        }

        var ml = new MLContext(1);
        var transformer = phase.StartsWith("ours", StringComparison.Ordinal)
            ? ResNetClassifierTransformer.Load(ml, model)
            : ml.Model.Load(model, out _);
        var load = Since();
        using var engine = ml.Model.CreatePredictionEngine<ImageInput, Prediction>(transformer);
        var created = Since();
        var prediction = engine.Predict(new ImageInput { ImagePath = image });
        var answer = Since();
        PrintReport(runtime, load, created, answer, prediction.PredictedLabel);

        // Untimed: a stock-loaded network's temp file (87 MB) goes only with Dispose.
        engine.Dispose();
        (transformer as IDisposable)?.Dispose();
    }

    /// <summary>A server's start: our loader, a batching predictor over what it returns (its "engine"), and one
    /// image's bytes through it. The label is the predicted label's key value, as the engines' cases print it.</summary>
    private static void RunPredictor(string model, string image, Func<double> since, double runtime)
    {
        var ml = new MLContext(1);
        var transformer = ResNetClassifierTransformer.Load(ml, model);
        var load = since();
        using var predictor = new ResNetBatchPredictor(ml, transformer);
        var created = since();
        var prediction = predictor.PredictAsync(File.ReadAllBytes(image)).GetAwaiter().GetResult();
        var answer = since();
        PrintReport(runtime, load, created, answer, (uint)(predictor.Labels.ToList().IndexOf(prediction.PredictedLabel) + 1));
        (transformer as IDisposable)?.Dispose();
    }

    /// <summary>The line <see cref="Report.Parse"/> reads: times since the process started, and the processor time so far.</summary>
    private static void PrintReport(double runtime, double load, double created, double answer, uint label)
    {
        var cpu = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{Marker} runtime={runtime:F3} load={load - runtime:F3} engine={created - load:F3} predict={answer - created:F3} answer={answer:F3} cpu={cpu:F3} label={label}"));
    }

    /// <summary>
    /// One child's times in seconds; <see cref="Wall"/> as the parent measured it, <see cref="Cpu"/> the child's processor
    /// time up to the answer (all threads), which other processes on a shared machine disturb far less than wall time.
    /// </summary>
    public sealed record Report(double Wall, double Runtime, double Load, double Engine, double Predict, double Answer, double Cpu, uint Label)
    {
        public static Report Parse(string output, double wall)
        {
            var line = output.Split('\n').Single(l => l.StartsWith(Marker, StringComparison.Ordinal));
            var values = line[Marker.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(p => p.Split('='))
                .ToDictionary(p => p[0], p => p[1]);
            double Get(string key) => double.Parse(values[key], CultureInfo.InvariantCulture);
            return new Report(wall, Get("runtime"), Get("load"), Get("engine"), Get("predict"), Get("answer"), Get("cpu"), uint.Parse(values["label"], CultureInfo.InvariantCulture));
        }
    }

    /// <summary>The pipeline's input row.</summary>
    public sealed class ImageInput
    {
        public string ImagePath { get; set; } = "";
    }

    /// <summary>The answer read back.</summary>
    public sealed class Prediction
    {
        public uint PredictedLabel { get; set; }
    }
}
