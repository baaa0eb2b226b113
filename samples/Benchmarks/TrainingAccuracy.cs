using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.ResNet;

namespace ResNetBenchmarks;

/// <summary>
/// The accuracy side of the training benchmark (<c>training --accuracy</c>): the Fashion-MNIST accuracy test's recipe
/// (ResNetTrainerTests.Fit_FashionMnistResNet34FromScratch_ReachesAccuracyBar: ResNet-34 from scratch at 32x32 on the
/// committed 2,000 training images, batch 32, one-cycle SGD to 0.03, 10 epochs, seed 1) trained in float32 and with
/// TrainInBFloat16, each evaluated on the 1,000 test images, with its training time.
/// </summary>
internal static class TrainingAccuracy
{
    private const int Size = 32;

    public static void Run()
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "transfer-data", "fashion-mnist");
        var float32 = TrainAndEvaluate(folder, bfloat16: false);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"FP32: accuracy {float32.Accuracy:0.000}, trained in {float32.Seconds:0.0} s"));
        if (!CpuFeatures.HasNativeBFloat16)
        {
            Console.WriteLine("BF16: this CPU has neither AVX512-BF16 nor AMX; not measured");
            return;
        }

        var bfloat16 = TrainAndEvaluate(folder, bfloat16: true);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"BF16 (TrainInBFloat16): accuracy {bfloat16.Accuracy:0.000}, trained in {bfloat16.Seconds:0.0} s"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"BF16 - FP32: {(bfloat16.Accuracy - float32.Accuracy) * 100:+0.0;-0.0} points, time {bfloat16.Seconds / float32.Seconds:0.00}x"));
    }

    private static (double Accuracy, double Seconds) TrainAndEvaluate(string folder, bool bfloat16)
    {
        var ml = new MLContext(seed: 1);
        var train = Rows(ml, Path.Combine(folder, "train"));
        var pipeline = ml.Transforms.LoadImages("Image", imageFolder: null, nameof(Row.ImagePath))
            .Append(ml.Transforms.ResizeImages("Image", Size, Size))
            .Append(ml.Transforms.ExtractPixels("Features", "Image", scaleImage: 1f / 255))
            .Append(ml.Transforms.Conversion.MapValueToKey(nameof(Row.Label)))
            .Fit(train);
        var options = new ResNetTrainerOptions
        {
            LabelColumnName = nameof(Row.Label),
            ImageHeight = Size,
            ImageWidth = Size,
            Epochs = 10,
            BatchSize = 32,
            LearningRate = 0.03,
            CacheInMemory = true,
            Seed = 1,
            TrainInBFloat16 = bfloat16,
        };
        var watch = Stopwatch.StartNew();
        using var model = ml.MulticlassClassification.Trainers.ResNet34(options).Fit(pipeline.Transform(train));
        var seconds = watch.Elapsed.TotalSeconds;
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(pipeline.Transform(Rows(ml, Path.Combine(folder, "test")))), nameof(Row.Label));
        return (metrics.MicroAccuracy, seconds);
    }

    private static IDataView Rows(MLContext ml, string folder) => ml.Data.LoadFromEnumerable(
        Directory.GetDirectories(folder).Order(StringComparer.Ordinal)
            .SelectMany(d => Directory.GetFiles(d, "*.png").Order(StringComparer.Ordinal).Select(f => new Row { ImagePath = f, Label = Path.GetFileName(d) }))
            .ToList());

    private sealed class Row
    {
        public string ImagePath { get; set; } = string.Empty;

        public string Label { get; set; } = string.Empty;
    }
}
