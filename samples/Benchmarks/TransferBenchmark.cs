using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.ResNet;
using Microsoft.ML.Transforms;
using Microsoft.ML.Transforms.Onnx;
using ImageClassification.Data;
using ImageClassification.Model;

namespace ResNetBenchmarks;

/// <summary>
/// Transfer learning on small labelled image folders, three ways in one process, one after another:
/// ML.NET's built-in (DnnFeaturizeImage with the ImageNet ResNet-18 of Microsoft.ML.DnnImageFeaturizer.ResNet18,
/// then LbfgsMaximumEntropy on its 512 features), our ResNet trainer fine-tuned from ImageNet weights (the sample's
/// default recipe, <c>TrainSettings.FineTuned</c>), and our ResNet-34 from scratch with the sample's defaults.
/// Train time is wall time from listing the image files to a trained model; evaluation (scoring the test
/// folder and MulticlassClassification.Evaluate) is timed separately. Accuracy is micro accuracy on the test folder.
/// </summary>
internal sealed class TransferBenchmark : IBenchmark
{
    private const string ImagePathColumn = "ImagePath";
    private const string ImageColumn = "Image";
    private const string PixelsColumn = "Pixels";
    private const string FeaturesColumn = "Features";
    private const string LabelColumn = "Label";
    private const int FeaturizerSize = 224;
    private const string BuiltIn = "builtin";
    private const string FineTuned = "finetuned";
    private const string Scratch = "scratch";

    // Tensor names inside Microsoft.ML.DnnImageFeaturizer.ResNet18's two ONNX files (the names DnnFeaturizeImage uses).
    private const string PrepInput = "OriginalInput";
    private const string PrepOutput = "PreprocessedInput";
    private const string NetworkInput = "Input247";
    private const string NetworkOutput = "Pooling395_Output_0";

    // The recipes are the console sample's own (samples/ImageClassification/Model/TrainSettings.cs, compiled into this
    // project too), so the benchmark measures exactly what `train` does.
    private const int Seed = 1;

    private static readonly DataSet[] DataSets =
    [
        new("fashion", "fashion-mnist", "the committed Fashion-MNIST split: 10 labels, 2,000 train / 1,000 test, 28x28 grayscale"),
        new("tuxpaint", "tuxpaint-photos", "Tux Paint stamp photographs: 4 labels, 246 train (123 photos + mirrors) / 59 test, 96x96 RGB"),
    ];

    public string Name => "transfer";

    public string Description =>
        "Small-data transfer learning: ML.NET DnnFeaturizeImage(ResNet18)+LbfgsMaximumEntropy vs ours fine-tuned vs ours from scratch; accuracy, train and eval wall time. "
        + "Options: --dataset fashion|tuxpaint|all --skip builtin,finetuned,scratch --epochs N (scratch) --per-label N (cap train images per label, smoke runs) --builtin-threads N (adds the built-in again with N ONNX Runtime threads)";

    public void Run(string[] arguments)
    {
        var dataSetName = BenchmarkArguments.Value(arguments, "--dataset") ?? "all";
        var skip = (BenchmarkArguments.Value(arguments, "--skip") ?? string.Empty)
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
        var unknown = skip.Except([BuiltIn, FineTuned, Scratch], StringComparer.OrdinalIgnoreCase).ToList();
        if (unknown.Count > 0)
        {
            throw new ArgumentException($"--skip accepts {BuiltIn}, {FineTuned}, {Scratch}; got '{string.Join(",", unknown)}'.", nameof(arguments));
        }

        var selected = dataSetName == "all" ? DataSets : DataSets.Where(d => d.Name == dataSetName).ToArray();
        if (selected.Length == 0)
        {
            throw new ArgumentException($"--dataset accepts {string.Join("|", DataSets.Select(d => d.Name))}|all; got '{dataSetName}'.", nameof(arguments));
        }

        var scratch = BenchmarkArguments.Value(arguments, "--epochs") is null
            ? TrainSettings.FromScratch
            : TrainSettings.FromScratch with { Epochs = IntOption(arguments, "--epochs", 1) };
        var perLabel = IntOption(arguments, "--per-label", int.MaxValue);
        int? builtInThreads = BenchmarkArguments.Value(arguments, "--builtin-threads") is null ? null : IntOption(arguments, "--builtin-threads", 1);
        Console.WriteLine(CpuInfo.Summary);
        if (perLabel != int.MaxValue)
        {
            Console.WriteLine($"SMOKE RUN: at most {perLabel} training images per label; figures are not comparable.");
        }

        var summaries = new List<string>();
        foreach (var dataSet in selected)
        {
            Console.WriteLine();
            Console.WriteLine($"-- {dataSet.Name}: {dataSet.Description}");
            var results = new List<Result>
            {
                skip.Contains(BuiltIn) ? Result.Skipped("built-in") : RunBuiltIn(dataSet, perLabel),
                skip.Contains(FineTuned) ? Result.Skipped("fine-tuned") : RunRecipe("fine-tuned", dataSet, perLabel, TrainSettings.FineTuned),
                skip.Contains(Scratch) ? Result.Skipped("scratch") : RunRecipe("scratch", dataSet, perLabel, scratch),
            };
            if (builtInThreads is { } threads)
            {
                results.Add(RunBuiltIn(dataSet, perLabel, threads));
            }

            PrintTable(results);
            summaries.Add(Summary(dataSet, results));
        }

        Console.WriteLine();
        foreach (var summary in summaries)
        {
            Console.WriteLine(summary);
        }
    }

    /// <summary>
    /// ML.NET's own transfer learning as its docs show it: 224x224 planar pixels on 0..255 (the package's
    /// preprocessing graph subtracts its mean image on that scale), DnnFeaturizeImage(ResNet18), label to key,
    /// LbfgsMaximumEntropy with its defaults.
    /// </summary>
    private static Result RunBuiltIn(DataSet dataSet, int perLabel, int? threads = null)
    {
        var method = threads is { } n ? $"built-in {n}t" : "built-in";
        var ml = new MLContext(seed: Seed);
        var watch = Stopwatch.StartNew();
        var train = Load(ml, dataSet.Folder("train"), perLabel);
        var pixels = ml.Transforms.LoadImages(ImageColumn, imageFolder: null, ImagePathColumn)
            .Append(ml.Transforms.ResizeImages(ImageColumn, FeaturizerSize, FeaturizerSize))
            .Append(ml.Transforms.ExtractPixels(PixelsColumn, ImageColumn, interleavePixelColors: false));
        IEstimator<ITransformer> featurizer = threads is { } count
            ? ThreadedFeaturizer(ml, count)
            : ml.Transforms.DnnFeaturizeImage(FeaturesColumn, m => m.ModelSelector.ResNet18(ml, m.OutputColumn, m.InputColumn), PixelsColumn);
        var pipeline = pixels.Append(featurizer)
            .Append(ml.Transforms.Conversion.MapValueToKey(LabelColumn, keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue))

            // L-BFGS makes many passes over its input; without the cache every pass would run the network again.
            // ML.NET's docs put a cache checkpoint before multi-pass trainers, so a user following them has it too.
            .AppendCacheCheckpoint(ml)
            .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(LabelColumn, FeaturesColumn));
        var model = pipeline.Fit(train);
        var trainSeconds = watch.Elapsed.TotalSeconds;
        try
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{method}: trained in {trainSeconds:0.0} s"));
            return Evaluate(ml, method, model, dataSet, trainSeconds);
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }

    /// <summary>
    /// What DnnFeaturizeImage(ResNet18) builds (the package's preprocessing graph, then its network, between the
    /// same column names), through ApplyOnnxModel so the ONNX Runtime intra-op thread count can be set: DnnFeaturizeImage
    /// has no such option and ONNX Runtime's default counts physical cores, one on some VMs. Same features, same model.
    /// </summary>
    private static IEstimator<ITransformer> ThreadedFeaturizer(MLContext ml, int threads)
    {
        var models = Path.Combine(AppContext.BaseDirectory, "DnnImageModels");
        OnnxOptions Options(string file, string input, string output) => new()
        {
            ModelFile = Path.Combine(models, file),
            InputColumns = [input],
            OutputColumns = [output],
            IntraOpNumThreads = threads,
        };
        return ml.Transforms.CopyColumns(PrepInput, PixelsColumn)
            .Append(ml.Transforms.ApplyOnnxModel(Options(Path.Combine("ResNetPrepOnnx", "ResNetPreprocess.onnx"), PrepInput, PrepOutput)))
            .Append(ml.Transforms.CopyColumns(NetworkInput, PrepOutput))
            .Append(ml.Transforms.ApplyOnnxModel(Options(Path.Combine("ResNet18Onnx", "ResNet18.onnx"), NetworkInput, NetworkOutput)))
            .Append(ml.Transforms.CopyColumns(FeaturesColumn, NetworkOutput))
            .Append(ml.Transforms.DropColumns(PrepInput, PrepOutput, NetworkInput, NetworkOutput));
    }

    /// <summary>
    /// Ours with one of the console sample's <c>train</c> recipes (its size chosen for the data set as <c>train</c> chooses
    /// it, then the passes the trainer resolves for that size, as in <c>train</c>); pixels are resized to the recipe's
    /// image size, 0..1, planar. The result says what ran: the input size, the epochs that ran and the stages that
    /// learned, and "head only" when no epoch ran.
    /// </summary>
    private static Result RunRecipe(string method, DataSet dataSet, int perLabel, TrainSettings recipe)
    {
        var settings = recipe.ForImages(() => ImageSizes.MedianShortSide(ImagePaths(dataSet.Folder("train"), perLabel)));
        var options = settings.ToTrainerOptions();
        options.LabelColumnName = LabelColumn;
        options.FeatureColumnName = PixelsColumn;
        var epochsRun = 0;
        var epochLine = EpochLine(method);
        options.Progress = p =>
        {
            epochsRun += p.IsEpochEnd ? 1 : 0;
            epochLine(p);
        };
        var learning = TrainSettings.LearningStages(options.ResolvedFrozenStages);
        Console.WriteLine($"{method}: {settings.Size}x{settings.Size}, up to {options.ResolvedEpochs} epoch(s), {learning} learn");
        var result = RunOurs(method, dataSet, perLabel, options, ml => ml.MulticlassClassification.Trainers.ResNet(options));
        var ran = epochsRun == 0 ? "head only" : $"{epochsRun} epoch(s), {learning} learn";
        return result with { Detail = $"{settings.Size}x{settings.Size}, {ran}" };
    }

    private static Result RunOurs(string method, DataSet dataSet, int perLabel, ResNetTrainerOptions options, Func<MLContext, ResNetTrainer> trainer)
    {
        var ml = new MLContext(seed: Seed);
        var watch = Stopwatch.StartNew();
        var train = Load(ml, dataSet.Folder("train"), perLabel);
        var pipeline = ml.Transforms.LoadImages(ImageColumn, imageFolder: null, ImagePathColumn)
            .Append(ml.Transforms.ResizeImages(ImageColumn, options.ImageWidth, options.ImageHeight))
            .Append(ml.Transforms.ExtractPixels(PixelsColumn, ImageColumn, scaleImage: 1f / 255))
            .Append(ml.Transforms.Conversion.MapValueToKey(LabelColumn, keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue))
            .Append(trainer(ml));
        using var model = pipeline.Fit(train);
        var trainSeconds = watch.Elapsed.TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{method}: trained in {trainSeconds:0.0} s"));
        return Evaluate(ml, method, model, dataSet, trainSeconds);
    }

    private static Result Evaluate(MLContext ml, string method, ITransformer model, DataSet dataSet, double trainSeconds)
    {
        var watch = Stopwatch.StartNew();
        var test = Load(ml, dataSet.Folder("test"), int.MaxValue);
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test), LabelColumn);
        var evalSeconds = watch.Elapsed.TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{method}: test accuracy {metrics.MicroAccuracy:0.000}, evaluated in {evalSeconds:0.0} s"));
        return new Result(method, metrics.MicroAccuracy, trainSeconds, evalSeconds, Status: null);
    }

    /// <summary>One row per image: the files of each label folder, in name order, at most <paramref name="perLabel"/>.</summary>
    private static IDataView Load(MLContext ml, string folder, int perLabel)
    {
        if (!Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"Data folder '{folder}' does not exist; the benchmark's build copies it from Microsoft.ML.ResNet.Tests/TestData.");
        }

        var rows = ImagePaths(folder, perLabel).Select(path => new ImageRow { ImagePath = path, Label = Path.GetFileName(Path.GetDirectoryName(path)!) }).ToList();
        if (rows.Count == 0)
        {
            throw new InvalidDataException($"Data folder '{folder}' has no <label>/*.png images.");
        }

        return ml.Data.LoadFromEnumerable(rows);
    }

    /// <summary>The <c>label/*.png</c> images under <paramref name="folder"/>, at most <paramref name="perLabel"/> per label, in ordinal order.</summary>
    private static List<string> ImagePaths(string folder, int perLabel) =>
        Directory.GetDirectories(folder).Order(StringComparer.Ordinal)
            .SelectMany(labelFolder => Directory.GetFiles(labelFolder, "*.png").Order(StringComparer.Ordinal).Take(perLabel))
            .ToList();

    private static Action<ResNetTrainingProgress> EpochLine(string method) => p =>
    {
        if (p.IsEpochEnd)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{method}: epoch {p.Epoch}/{p.Epochs} loss {p.Loss:0.000} train accuracy {p.TrainAccuracy:0.000}, {p.ImagesPerSecond:0.0} images/s"));
        }
    };

    private static void PrintTable(IReadOnlyList<Result> results)
    {
        Console.WriteLine($"{"method",-12} {"accuracy",9} {"train wall s",13} {"eval s",8}");
        foreach (var r in results)
        {
            Console.WriteLine(r.Status is null
                ? string.Create(CultureInfo.InvariantCulture, $"{r.Method,-12} {r.Accuracy,9:0.000} {r.TrainSeconds,13:0.0} {r.EvalSeconds,8:0.0}  {r.Detail}")
                : $"{r.Method,-12} {r.Status}");
        }
    }

    /// <summary>
    /// The one-line verdict; the fine-tuned ratio is its train wall time over the (default-threaded) built-in's.
    /// Rows beyond the three (the threaded built-in) follow at the end.
    /// </summary>
    private static string Summary(DataSet dataSet, IReadOnlyList<Result> results)
    {
        var builtIn = results[0];
        var fineTuned = results[1];
        var scratch = results[2];
        string Part(Result r) => r.Status is null
            ? string.Create(CultureInfo.InvariantCulture, $"{r.Method} {r.Accuracy:0.000} in {r.TrainSeconds:0.0} s")
            : $"{r.Method} {r.Status}";
        var ratio = fineTuned.Status is null && builtIn.Status is null
            ? string.Create(CultureInfo.InvariantCulture, $"{fineTuned.TrainSeconds / builtIn.TrainSeconds:0.00}x time; ")
            : string.Empty;
        var fineTunedNotes = fineTuned.Status is null ? $" ({ratio}{fineTuned.Detail})" : string.Empty;
        var extra = string.Concat(results.Skip(3).Select(r => $"; {Part(r)}"));
        return $"transfer {dataSet.Name}: {Part(builtIn)}; {Part(fineTuned)}{fineTunedNotes}; {Part(scratch)}{extra}";
    }

    private static int IntOption(string[] arguments, string name, int fallback)
    {
        var text = BenchmarkArguments.Value(arguments, name);
        if (text is null)
        {
            return fallback;
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value
            : throw new ArgumentOutOfRangeException(nameof(arguments), text, $"{name} takes a positive whole number; got '{text}'.");
    }

    /// <summary>A data set: its command-line name and its folder under transfer-data/ (copied from TestData at build).</summary>
    private sealed record DataSet(string Name, string FolderName, string Description)
    {
        public string Folder(string split) => Path.Combine(AppContext.BaseDirectory, "transfer-data", FolderName, split);
    }

    /// <summary>One method's outcome; <paramref name="Status"/> is set (and the figures meaningless) when it did not run;
    /// <paramref name="Detail"/> says what ran, where that varies.</summary>
    private sealed record Result(string Method, double Accuracy, double TrainSeconds, double EvalSeconds, string? Status, string? Detail = null)
    {
        public static Result Skipped(string method) => new(method, 0, 0, 0, "skipped");

    }

    private sealed class ImageRow
    {
        public string ImagePath { get; set; } = string.Empty;

        public string Label { get; set; } = string.Empty;
    }
}
