using ImageClassification.Training;
using Microsoft.ML;
using Microsoft.ML.ResNet;

namespace ImageClassification.Model;

/// <summary>Every call into the ResNet trainer, in one place.</summary>
internal static class ResNetTraining
{
    /// <summary>
    /// The trainer estimator: reads <see cref="ImagePipeline.PixelsColumn"/> and the key-typed label, trains, and
    /// returns the ONNX Runtime scoring transformer (Score with the labels as slot names, PredictedLabel as a key).
    /// </summary>
    public static ResNetTrainer Trainer(MLContext ml, TrainSettings settings, IProgress<TrainingUpdate> progress)
    {
        var options = new ResNetTrainerOptions
        {
            Architecture = settings.Architecture,
            LabelColumnName = ImagePipeline.LabelColumn,
            FeatureColumnName = ImagePipeline.PixelsColumn,
            ImageHeight = settings.ImageSize,
            ImageWidth = settings.ImageSize,
            Epochs = settings.Epochs,
            BatchSize = settings.BatchSize,
            LearningRate = settings.LearningRate,
            PretrainedWeightsPath = settings.WeightsPath,
            Seed = settings.Seed,
            CheckpointFolder = settings.CheckpointFolder,
            // Small images: holding the pixels in memory (3 x 32 x 32 floats = 12 KB each) saves decoding every epoch.
            CacheInMemory = (long)settings.ImageSize * settings.ImageSize <= 64 * 64,
            // Every step: the live bar should move on small data sets too (a report costs nothing next to a step).
            ProgressInterval = 1,
            Progress = p => progress.Report(ToUpdate(p)),
        };
        return ml.MulticlassClassification.Trainers.ResNet(options);
    }

    private static TrainingUpdate ToUpdate(ResNetTrainingProgress p) => new(
        p.Epoch, p.Epochs, p.Step, p.StepsPerEpoch, p.Loss, p.TrainAccuracy, p.ValidationAccuracy,
        p.LearningRate, p.ImagesPerSecond, p.EstimatedTimeRemaining, p.IsEpochEnd);
}
