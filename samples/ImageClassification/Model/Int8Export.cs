using ImageClassification.Cli;
using ImageClassification.Data;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.ResNet;
using Spectre.Console;

namespace ImageClassification.Model;

/// <summary>
/// <c>export --int8</c>: the classifier quantized to INT8, calibrated on training images, written as
/// <c>model.int8.onnx</c> and as <c>model.int8.zip</c> (the saved pipeline with the INT8 network in the classifier's
/// place), next to the model, so <c>evaluate</c> and <c>predict</c> take it like any model.
/// </summary>
internal static class Int8Export
{
    public static void Run(MLContext ml, ITransformer model, ResNetClassifierTransformer classifier, string modelPath, string fp32OnnxPath, ExportCommandSettings options, IAnsiConsole console)
    {
        var folder = options.Data ?? TrainTestData.EmbeddedSampleFolder;
        var images = TrainTestData.Load(folder, testFolder: null, options.BadImages).Train;

        // Rows come label by label: an even stride over them calibrates on every label, not on the first one or two.
        var rows = new OnnxQuantizationOptions().CalibrationRows;
        var stride = Math.Max(1, images.Count / rows);
        var sample = images.Where((_, i) => i % stride == 0).Take(rows).ToList();
        var input = ml.Data.LoadFromEnumerable(sample);
        var pixels = ImagePipeline.LoadPixels(ml, classifier.ImageHeight).Fit(input).Transform(input);

        var stem = Path.Combine(Path.GetDirectoryName(modelPath)!, Path.GetFileNameWithoutExtension(modelPath));
        var onnxPath = stem + ".int8.onnx";
        var zipPath = stem + ".int8.zip";
        classifier.SaveOnnx(onnxPath, pixels);
        using var int8 = ml.Transforms.ResNetClassify(new ResNetClassifierOptions
        {
            ModelPath = onnxPath,
            FeatureColumnName = classifier.FeatureColumnName,
            ScoreColumnName = classifier.ScoreColumnName,
            PredictedLabelColumnName = classifier.PredictedLabelColumnName,
            EmbeddingColumnName = classifier.EmbeddingColumnName,
            BatchSize = classifier.BatchSize,
        }).Fit(pixels);
        ml.Model.Save(Replace(model, classifier, int8), input.Schema, zipPath);
        console.MarkupLine(
            $"Saved [bold]{Markup.Escape(onnxPath)}[/] and [bold]{Markup.Escape(zipPath)}[/] "
            + $"({Markup.Escape(int8.Quantization ?? "int8")}, calibrated on {sample.Count} images of {Markup.Escape(folder)}; "
            + $"{new FileInfo(onnxPath).Length / 1e6:F1} MB against {new FileInfo(fp32OnnxPath).Length / 1e6:F1} MB)");
        if (!CpuFeatures.HasVnni)
        {
            console.MarkupLine("[yellow]This CPU has no VNNI (avx512_vnni / avx_vnni): the INT8 model runs correctly but may be no faster than FP32.[/]");
        }
    }

    /// <summary>The pipeline with <paramref name="old"/> replaced by <paramref name="replacement"/>, at any depth.</summary>
    private static ITransformer Replace(ITransformer model, ITransformer old, ITransformer replacement) => model switch
    {
        _ when ReferenceEquals(model, old) => replacement,
        TransformerChain<ITransformer> chain => new TransformerChain<ITransformer>(chain.Select(t => Replace(t, old, replacement)).ToArray()),
        _ => model,
    };
}
