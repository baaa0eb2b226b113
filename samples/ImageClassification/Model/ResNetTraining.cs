using ImageClassification.Training;
using Microsoft.ML;
using Microsoft.ML.ResNet;

namespace ImageClassification.Model;

/// <summary>Every call into the ResNet trainer, in one place.</summary>
internal static class ResNetTraining
{
    /// <summary>
    /// The trainer estimator: reads <see cref="ImagePipeline.FeaturesColumn"/> and the key-typed label, trains, and
    /// returns the ONNX Runtime scoring transformer (Score with the labels as slot names, PredictedLabel as a key).
    /// </summary>
    /// <param name="ml">The context.</param>
    /// <param name="settings">The recipe.</param>
    /// <param name="variant">The wiring: torchvision's, or the seed project's (224x224 only).</param>
    /// <param name="progress">Receives every step's progress.</param>
    public static ResNetTrainer Trainer(MLContext ml, TrainSettings settings, ResNetVariant variant, IProgress<TrainingUpdate> progress)
    {
        var options = settings.ToTrainerOptions();
        options.Variant = variant;
        options.LabelColumnName = ImagePipeline.LabelColumn;
        options.FeatureColumnName = ImagePipeline.FeaturesColumn;
        // Every step: the live bar should move on small data sets too (a report costs nothing next to a step).
        options.ProgressInterval = 1;
        options.Progress = p => progress.Report(ToUpdate(p));
        return ml.MulticlassClassification.Trainers.ResNet(options);
    }

    private static TrainingUpdate ToUpdate(ResNetTrainingProgress p) => new(
        p.Epoch, p.Epochs, p.Step, p.StepsPerEpoch, p.Loss, p.TrainAccuracy, p.ValidationAccuracy,
        p.LearningRate, p.ImagesPerSecond, p.EstimatedTimeRemaining, p.IsEpochEnd);
}
