using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.ResNet;
using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Native;
using Microsoft.ML.ResNet.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ResNetBenchmarks;

/// <summary>
/// ResNet-34 training throughput at 64x64, batch 32, SGD (Nesterov 0.9, wd 5e-4), 10 classes: our TorchSharp step on a
/// fixed batch (the trainer's float32 step, the same with TorchSharp's own SGD, channels-last, and the bfloat16 mixed step
/// of TrainInBFloat16 where the CPU computes bfloat16) and through the real IDataView feeder, against PyTorch's
/// tools/pytorch_train_benchmark.py (same model, batch, optimizer, 2 threads; its default NCHW FP32, channels-last, and
/// autocast BF16 with channels-last where the CPU computes BF16) in the same run. The variants run in interleaved rounds
/// (each round runs every variant once), so a machine that slows down mid-run slows all of them alike; each figure is the
/// median over the rounds.
/// </summary>
/// <remarks>
/// Where the step's time goes (AMD EPYC, AVX-512 with BF16, 2 threads; ONEDNN_VERBOSE=1 and per-phase timers): libtorch
/// 2.10 under TorchSharp and PyTorch 1.13 pick the same oneDNN kernels (jit:avx512_core convolutions) and take the same
/// time in them, shape by shape, within a few percent; in NCHW a third of oneDNN's time is reorders between the plain
/// and the blocked layout around every convolution, which channels-last avoids. The one large difference was the
/// optimizer: TorchSharp's SGD step kept two temporaries per parameter until the step ended (113-161 ms a step against
/// PyTorch's 48-123 ms); the trainer's InPlaceSgd takes 42-56 ms. bfloat16 convolutions roughly halve the passes' time;
/// bfloat16 BatchNorm backward is ten times slower than float32's, so BatchNorm stays float32 in the mixed step.
/// Thread waiting: libgomp's default lets an idle OpenMP thread spin (about 300,000 turns) before it sleeps, and the
/// library sets OMP_WAIT_POLICY=PASSIVE instead (OpenMpWaitPolicy), so every parallel operation wakes a sleeping thread.
/// On a quiet machine that costs a lone fixed-batch step 10-20% (PyTorch: 45.0 against 55.2 images/s in one run), which
/// is why PyTorch's default variant runs without the variable and a second one with ours; with one busy thread competing
/// for the two cores, spinning costs far more (ours 32-35 images/s passive, 18-24 with GOMP_SPINCOUNT=10000).
/// Memory: with glibc's defaults a step frees its activations back to the kernel and faults them in again the next
/// step (about 23,000 page faults a step here); the library's MallocPolicy keeps them, PyTorch runs with the defaults
/// except in the variant that gets our wait policy and malloc settings both, which compares the frameworks alone.
/// </remarks>
internal sealed class TrainingBenchmark : IBenchmark
{
    private const int Batch = 32;
    private const int Size = 64;
    private const int Classes = 10;
    private const int Warmup = 3;

    /// <summary>The OpenMP wait policy our side runs with: the user's, else the library's PASSIVE (OpenMpWaitPolicy).</summary>
    private static string OurOpenMpPolicy => UsersOpenMpPolicy ?? OpenMpWaitPolicy.Passive;

    private static string? UsersOpenMpPolicy => Environment.GetEnvironmentVariable(OpenMpWaitPolicy.Variable);

    private const string SpinCountVariable = "GOMP_SPINCOUNT";

    public string Name => "training";

    public string Description =>
        "ResNet-34 training images/s (64x64 unless --size says, batch 32, SGD) vs PyTorch (FP32, channels-last, autocast BF16), interleaved rounds, medians; data-feeding share of step time. Options: --steps N (per round) --rounds N --threads N --size N --only TEXT (the variants whose name contains TEXT); --accuracy trains the Fashion-MNIST accuracy test's recipe in FP32 and BF16 instead";

    public void Run(string[] arguments)
    {
        var steps = BenchmarkArguments.PositiveInt(arguments, "--steps", 20);
        var rounds = BenchmarkArguments.PositiveInt(arguments, "--rounds", 3);
        var threads = BenchmarkArguments.PositiveInt(arguments, "--threads", 2);
        var size = BenchmarkArguments.PositiveInt(arguments, "--size", Size);
        torch.set_num_threads(threads);
        Console.WriteLine(CpuInfo.Summary);
        Console.WriteLine($"libtorch threads: {torch.get_num_threads()}, OMP_WAIT_POLICY: ours {OurOpenMpPolicy}, PyTorch {UsersOpenMpPolicy ?? "unset (libgomp's default: spin, then sleep)"} except where a variant says, {rounds} rounds x {steps} timed steps per variant after {Warmup} warm-up steps, size: {size}");
        if (Environment.GetEnvironmentVariable(SpinCountVariable) is { } spinCount)
        {
            // libgomp lets GOMP_SPINCOUNT override the wait policy's spin count: every variant then spins that long.
            Console.WriteLine($"{SpinCountVariable}={spinCount} (set by the user, inherited by PyTorch): every variant spins that long before it sleeps, whatever its wait policy");
        }

        Console.WriteLine($"glibc malloc: ours {(MallocPolicy.Applied ? "keeps freed memory (MallocPolicy: no blocks mapped on their own, no trimming)" : "as the process started (the user tuned it, or not glibc)")}, PyTorch glibc's defaults unless the user tuned them (one variant with ours)");

        if (arguments.Contains("--accuracy"))
        {
            TrainingAccuracy.Run();
            return;
        }

        if (arguments.Contains("--probe"))
        {
            Probe(size);
            return;
        }

        // Before our side runs: a comparison without its PyTorch half is no comparison.
        PyTorchPython.EnsureAvailable();

        var bf16 = CpuFeatures.HasNativeBFloat16;
        var variants = new List<(string Name, Func<double?> Measure)>
        {
            ("TorchSharp FP32 NCHW", () => MeasureFixedBatch(steps, size, Step.Float32)),
            ("TorchSharp FP32 NCHW, TorchSharp's SGD", () => MeasureFixedBatch(steps, size, Step.Float32WithTorchSharpsSgd)),
            ("TorchSharp FP32 channels-last", () => MeasureFixedBatch(steps, size, Step.Float32ChannelsLast)),
            ("TorchSharp FP32 channels-last copy", () => MeasureFixedBatch(steps, size, Step.Float32ChannelsLastCopy)),
            ("PyTorch FP32 NCHW (default)", () => MeasurePyTorch(steps, size)),
            ("PyTorch FP32 NCHW, our wait policy", () => MeasurePyTorch(steps, size, withOurWaitPolicy: true)),
            ("PyTorch FP32 NCHW, our wait and malloc", () => MeasurePyTorch(steps, size, withOurWaitPolicy: true, withOurMalloc: true)),
            ("PyTorch FP32 channels-last", () => MeasurePyTorch(steps, size, flags: "--channels-last")),
        };
        if (bf16)
        {
            variants.Add(("TorchSharp BF16 mixed (TrainInBFloat16)", () => MeasureFixedBatch(steps, size, Step.BFloat16Mixed)));
            variants.Add(("PyTorch BF16 autocast + channels-last", () => MeasurePyTorch(steps, size, flags: ["--channels-last", "--bf16"])));
        }

        var only = BenchmarkArguments.Value(arguments, "--only");
        if (only is not null)
        {
            // A developer's knob for one question at a time (e.g. --only "FP32 NCHW"): the named variants, no feeder
            // pass and no ratio lines (they need every variant).
            variants.RemoveAll(v => !v.Name.Contains(only, StringComparison.OrdinalIgnoreCase));
        }

        var figures = variants.ToDictionary(v => v.Name, _ => new List<double>());
        for (var round = 1; round <= rounds; round++)
        {
            foreach (var (name, measure) in variants)
            {
                if (measure() is { } imagesPerSecond)
                {
                    figures[name].Add(imagesPerSecond);
                }
            }

            Console.WriteLine($"round {round}: " + string.Join(", ", variants.Select(v => figures[v.Name].Count == round ? $"{figures[v.Name][^1]:0.0}" : "-")));
        }

        Console.WriteLine();
        foreach (var (name, _) in variants)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-40} {Median(figures[name]),8:0.0} images/s (median of {figures[name].Count})"));
        }

        if (only is not null)
        {
            return;
        }

        var (fed, dataShare) = MeasureThroughFeeder(steps * rounds, size);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"TorchSharp through the PNG IDataView feeder",-40} {fed,8:0.0} images/s, data wait {dataShare:P1} of step time ({steps * rounds} steps)"));
        var pytorch = Median(figures["PyTorch FP32 NCHW (default)"]);
        var pytorchBest = figures.Where(f => f.Key.StartsWith("PyTorch", StringComparison.Ordinal) && f.Value.Count > 0).Select(f => Median(f.Value)).DefaultIfEmpty(double.NaN).Max();
        var ours = Median(figures["TorchSharp FP32 NCHW"]);
        Console.WriteLine(bf16
            ? string.Create(CultureInfo.InvariantCulture, $"BF16: ours (TrainInBFloat16) {Median(figures["TorchSharp BF16 mixed (TrainInBFloat16)"]):0.0} images/s, PyTorch's best here {pytorchBest:0.0} images/s: ratio {Median(figures["TorchSharp BF16 mixed (TrainInBFloat16)"]) / pytorchBest:0.00}x")
            : "BF16: this CPU has neither AVX512-BF16 nor AMX; not measured");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"FP32 with the same OpenMP wait policy ({OurOpenMpPolicy}): ours / PyTorch {ours / Median(figures["PyTorch FP32 NCHW, our wait policy"]):0.00}x"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"FP32 with the same wait policy and malloc settings: ours / PyTorch {ours / Median(figures["PyTorch FP32 NCHW, our wait and malloc"]):0.00}x"));
        Console.WriteLine(double.IsNaN(pytorch)
            ? "PyTorch: not measured (see above)"
            : string.Create(CultureInfo.InvariantCulture, $"ratio TorchSharp/PyTorch: fixed {ours / pytorch:0.00}x, feeder {fed / pytorch:0.00}x"));
    }

    private static double Median(List<double> values) =>
        values.Count == 0 ? double.NaN : values.Order().ElementAt(values.Count / 2) / 2 + values.Order().ElementAt((values.Count - 1) / 2) / 2;

    private static void Probe(int size)
    {
        manual_seed(1234);
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet34, Classes));
        using var input = randn(Batch, 3, size, size);
        using var target = randint(0, Classes, [Batch], dtype: ScalarType.Int64);
        using var conv = nn.Conv2d(64, 64, 3, padding: 1, bias: false);
        using var x64 = randn(Batch, 64, size / 4, size / 4);
        void Time(string name, Action action)
        {
            action();
            var w = Stopwatch.StartNew();
            for (var i = 0; i < 5; i++)
            {
                using var scope = NewDisposeScope();
                action();
            }

            Console.WriteLine($"{name,-30} {w.Elapsed.TotalMilliseconds / 5,8:0.0} ms");
        }

        Time("conv3x3 64 fwd no_grad", () => { using var g = no_grad(); conv.call(x64); });
        Time("conv3x3 64 fwd+bwd", () => { var y = conv.call(x64.requires_grad_(false)); y.sum().backward(); });
        model.eval();
        Time("model fwd eval no_grad", () => { using var g = no_grad(); model.call(input); });
        model.train();
        Time("model fwd train", () => model.call(input));
        Time("model fwd+bwd train", () => nn.functional.cross_entropy(model.call(input), target).backward());
    }

    /// <summary>
    /// Images per second of <paramref name="steps"/> training steps on one fixed batch (compute only, no data loading).
    /// <see cref="Step.Float32"/> is the trainer's float32 step (its in-place SGD); the others isolate one finding each.
    /// </summary>
    private static double? MeasureFixedBatch(int steps, int size, Step kind)
    {
        manual_seed(1234);
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet34, Classes));
        model.train();
        if (kind == Step.Float32ChannelsLast)
        {
            // On the network itself, as PyTorch's model.to(memory_format=torch.channels_last); the trainer does not do this
            // because TorchSharp writes no non-contiguous tensor to a checkpoint.
            ChannelsLast.RestrideWeights(model);
        }

        using var copy = kind switch
        {
            Step.BFloat16Mixed => TrainingCopy.Of(model, CPU, ScalarType.BFloat16),
            Step.Float32ChannelsLastCopy => TrainingCopy.Of(model, CPU, ScalarType.Float32),
            _ => null,
        };
        var network = copy?.Network ?? model;
        var parameters = new[] { new SGD.ParamGroup(model.parameters(), 0.01, 0.9, weight_decay: 5e-4, nesterov: true) };
        using OptimizerHelper optimizer = kind == Step.Float32WithTorchSharpsSgd
            ? optim.SGD(parameters, 0.01, 0.9, weight_decay: 5e-4, nesterov: true)
            : new InPlaceSgd(parameters, 0.01, 0.9, 5e-4, nesterov: true);
        using var pixels = randn(Batch, 3, size, size);
        using var input = kind switch
        {
            Step.Float32ChannelsLast => ChannelsLast.Of(pixels),
            Step.BFloat16Mixed or Step.Float32ChannelsLastCopy => copy!.ToInput(pixels),
            _ => pixels.alias(),
        };
        using var target = randint(0, Classes, [Batch], dtype: ScalarType.Int64);

        void TrainStep()
        {
            using var scope = NewDisposeScope();
            copy?.PullWeights();
            optimizer.zero_grad();
            copy?.ZeroGradients();
            var loss = nn.functional.cross_entropy(network.call(input).to(ScalarType.Float32), target);
            loss.backward();
            copy?.PushGradients();
            optimizer.step();
        }

        for (var i = 0; i < Warmup; i++)
        {
            TrainStep();
        }

        var watch = Stopwatch.StartNew();
        for (var i = 0; i < steps; i++)
        {
            TrainStep();
        }

        return steps * Batch / watch.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// The real loop for one epoch of <paramref name="steps"/> batches streamed (no cache) from an IDataView
    /// that decodes real PNG photos, resizes them and extracts pixels on the feeder's producer thread.
    /// </summary>
    private static (double ImagesPerSecond, double DataWaitFraction) MeasureThroughFeeder(int steps, int size)
    {
        var ml = new MLContext(seed: 1);
        var photos = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "photos"), "*.png").Order().ToArray();
        var rows = Enumerable.Range(0, (steps + Warmup) * Batch)
            .Select(i => new Row { ImagePath = photos[i % photos.Length], Label = (i % Classes).ToString(CultureInfo.InvariantCulture) })
            .ToList();
        var raw = ml.Data.LoadFromEnumerable(rows);
        var data = ml.Transforms.LoadImages("Image", imageFolder: null, inputColumnName: nameof(Row.ImagePath))
            .Append(ml.Transforms.ResizeImages("Image", size, size))
            .Append(ml.Transforms.ExtractPixels("Features", "Image", scaleImage: 1f / 255))
            .Append(ml.Transforms.Conversion.MapValueToKey(nameof(Row.Label)))
            .Fit(raw)
            .Transform(raw);

        // The public API's recipe (augmentation, optimizer), as ResNet34(options).Fit would train.
        var settings = TrainerOptionsResolver.Resolve(
            new ResNetTrainerOptions
            {
                Architecture = ResNetArchitecture.ResNet34,
                ImageHeight = size,
                ImageWidth = size,
                Epochs = 1,
                BatchSize = Batch,
                LearningRate = 0.01,
                LearningRateSchedule = ResNetLearningRateSchedule.Constant,
                LabelSmoothing = 0,
                ShufflePoolRows = 256,
            },
            seed: 1);
        manual_seed(1234);
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet34, Classes));
        var loop = new ResNetTrainingLoop(settings, CPU, progress: null);
        var outcome = loop.Train(model, new BatchFeeder(data, "Features", nameof(Row.Label), settings, DataSplit.All), null, CancellationToken.None);
        var epoch = outcome.History[^1];
        return (epoch.ImagesPerSecond, epoch.DataWaitFraction);
    }

    private static double? MeasurePyTorch(int steps, int size, bool withOurWaitPolicy = false, bool withOurMalloc = false, params string[] flags)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "tools", "pytorch_train_benchmark.py");
        var start = PyTorchPython.Start(
            script,
            ["--steps", steps.ToString(CultureInfo.InvariantCulture), "--size", size.ToString(CultureInfo.InvariantCulture), .. flags]);

        // PyTorch's default step is its default OpenMP wait (libgomp spins a while before sleeping), which the library
        // replaces with PASSIVE for shared cores (OpenMpWaitPolicy); the "our wait policy" variant separates the
        // frameworks from that setting. A policy the user set applies to both.
        if (withOurWaitPolicy || UsersOpenMpPolicy is not null)
        {
            start.Environment[OpenMpWaitPolicy.Variable] = OurOpenMpPolicy;
        }
        else
        {
            start.Environment.Remove(OpenMpWaitPolicy.Variable);
        }

        // glibc's defaults unless asked (or the user's own tunables, which both sides inherit): the "our wait and malloc"
        // variant runs with the settings MallocPolicy gives our process, so the frameworks alone are compared.
        if (withOurMalloc && MallocPolicy.Applied)
        {
            start.Environment["GLIBC_TUNABLES"] = MallocPolicy.EquivalentTunables;
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            Console.WriteLine($"PyTorch benchmark failed ({process.ExitCode}): {error.Result}");
            return null;
        }

        using var json = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
        return json.RootElement.GetProperty("images_per_second").GetDouble();
    }

    private enum Step
    {
        Float32,
        Float32WithTorchSharpsSgd,
        Float32ChannelsLast,
        Float32ChannelsLastCopy,
        BFloat16Mixed,
    }

    private sealed class Row
    {
        public string ImagePath { get; set; } = string.Empty;

        public string Label { get; set; } = string.Empty;
    }
}
