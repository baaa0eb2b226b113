using ImageClassification.Training;
using Microsoft.ML;

namespace ImageClassification.Model;

/// <summary>
/// Every call into the ResNet trainer and exporter, in one place.
/// </summary>
internal static class ResNetTraining
{
    /// <summary>The trainer estimator: reads <see cref="ImagePipeline.PixelsColumn"/> and the key-typed label.</summary>
    public static IEstimator<ITransformer> Trainer(MLContext ml, TrainSettings settings, int numberOfTrainingImages, IProgress<TrainingUpdate> progress)
    {
        // PLACEHOLDER until the ResNet trainer lands: a linear model on the pixels, so the rest of the app
        // (data, progress, evaluation, save, predict) runs end to end.
        var steps = Math.Max(1, (numberOfTrainingImages + settings.BatchSize - 1) / settings.BatchSize);
        progress.Report(new TrainingUpdate(1, 1, steps, steps, 0, 0, null, 0, 0, TimeSpan.Zero));
        return ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(ImagePipeline.LabelColumn, ImagePipeline.PixelsColumn, maximumNumberOfIterations: 5);
    }

    /// <summary>Writes the trained network as ONNX.</summary>
    /// <returns>False when this model cannot be exported (the reason is printed by the caller).</returns>
    public static bool TryExportOnnx(MLContext ml, ITransformer model, string onnxPath, out string? problem)
    {
        problem = "ONNX export is not wired yet.";
        return false;
    }
}
