using ImageClassification.Training;
using Microsoft.ML;

namespace ImageClassification.Model;

/// <summary>Every call into the ResNet trainer, in one place.</summary>
internal static class ResNetTraining
{
    /// <summary>The trainer estimator: reads <see cref="ImagePipeline.PixelsColumn"/> and the key-typed label.</summary>
    public static IEstimator<ITransformer> Trainer(MLContext ml, TrainSettings settings, IProgress<TrainingUpdate> progress)
    {
        // PLACEHOLDER until the ResNet trainer lands on main: a linear model on the pixels, so the rest of the app
        // (data, progress, evaluation, save, predict) runs end to end.
        progress.Report(new TrainingUpdate(1, 1, 1, 1, 0, 0, null, 0, 0, TimeSpan.Zero, EndsEpoch: true));
        return ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(ImagePipeline.LabelColumn, ImagePipeline.PixelsColumn, maximumNumberOfIterations: 5);
    }
}
