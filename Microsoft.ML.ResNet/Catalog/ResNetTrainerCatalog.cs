using Microsoft.ML.ResNet;
using Microsoft.ML.ResNet.Catalog;

namespace Microsoft.ML;

/// <summary>ResNet training verbs on <see cref="MulticlassClassificationCatalog.MulticlassClassificationTrainers"/>.</summary>
public static class ResNetTrainerCatalog
{
    /// <summary>
    /// Trains a ResNet-34 classifier on a pixel column (ExtractPixels with scaleImage: 1f / 255, resized to
    /// <paramref name="imageHeight"/> x <paramref name="imageWidth"/>) and a key-typed label. <c>Fit</c> trains
    /// with the defaults of <see cref="ResNetTrainerOptions"/>, exports to ONNX with the label names and returns
    /// the scoring transformer (columns Score, PredictedLabel and Embedding).
    /// </summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="labelColumnName">The key-typed label column.</param>
    /// <param name="featureColumnName">The pixel column.</param>
    /// <param name="imageHeight">Image height of the pixel column.</param>
    /// <param name="imageWidth">Image width of the pixel column.</param>
    /// <param name="epochs">Passes over the training data.</param>
    /// <param name="batchSize">Images per step.</param>
    /// <param name="learningRate">Peak learning rate; null uses SGD's default, 0.1 x batchSize / 128.</param>
    /// <param name="pretrainedWeightsPath">Weights to start from (<c>.pth</c>, <c>.safetensors</c>, ONNX); the head is always fresh.</param>
    /// <param name="gpuDeviceId">CUDA device; null uses <c>MLContext.GpuDeviceId</c> and <c>MLContext.FallbackToCpu</c>.</param>
    /// <param name="fallbackToCpu">With a <paramref name="gpuDeviceId"/>: train on the CPU when CUDA cannot be used, instead of throwing.</param>
    /// <returns>The trainer (an estimator).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="catalog"/> is null.</exception>
    /// <exception cref="ArgumentException">An argument is invalid; ParamName names it.</exception>
    /// <example>See samples/apps/train.cs (there with the options overload).</example>
    public static ResNetTrainer ResNet34(
        this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = Defaults.Trainer.LabelColumnName,
        string featureColumnName = Defaults.FeatureColumnName,
        int imageHeight = Defaults.ImageSize,
        int imageWidth = Defaults.ImageSize,
        int epochs = Defaults.Trainer.Epochs,
        int batchSize = Defaults.BatchSize,
        double? learningRate = null,
        string? pretrainedWeightsPath = null,
        int? gpuDeviceId = null,
        bool fallbackToCpu = false)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return ResNet(catalog, new ResNetTrainerOptions
        {
            Architecture = ResNetArchitecture.ResNet34,
            LabelColumnName = labelColumnName,
            FeatureColumnName = featureColumnName,
            ImageHeight = imageHeight,
            ImageWidth = imageWidth,
            Epochs = epochs,
            BatchSize = batchSize,
            LearningRate = learningRate,
            PretrainedWeightsPath = pretrainedWeightsPath,
            GpuDeviceId = gpuDeviceId,
            FallbackToCpu = fallbackToCpu,
        });
    }

    /// <summary>Trains a ResNet-34 classifier with every setting in <paramref name="options"/>.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="options">Columns, image size, optimization, augmentation, validation, checkpoints, device, progress;
    /// <see cref="ResNetTrainerOptions.Architecture"/> must be ResNet-34 (its default): other architectures train through
    /// <see cref="ResNet(MulticlassClassificationCatalog.MulticlassClassificationTrainers, ResNetTrainerOptions)"/>.</param>
    /// <returns>The trainer (an estimator).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="catalog"/> or <paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is invalid, or <see cref="ResNetTrainerOptions.Architecture"/> is not
    /// ResNet-34; ParamName names the option.</exception>
    /// <example>See samples/apps/train.cs.</example>
    public static ResNetTrainer ResNet34(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, ResNetTrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Architecture != ResNetArchitecture.ResNet34)
        {
            // An explicit option is never silently replaced: ResNet34Classify keeps it too.
            throw new ArgumentException(
                $"Trainers.ResNet34 trains a ResNet-34, but options.Architecture is {options.Architecture}: use Trainers.ResNet(options) for it, or leave Architecture at ResNet34.",
                nameof(options.Architecture));
        }

        return ResNet(catalog, options);
    }

    /// <summary>Trains any ResNet (18/34/50/101/152, <see cref="ResNetTrainerOptions.Architecture"/>) with every setting in <paramref name="options"/>.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="options">Architecture, columns, image size, optimization, augmentation, validation, checkpoints, device, progress.</param>
    /// <returns>The trainer (an estimator).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="catalog"/> or <paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is invalid; ParamName names it.</exception>
    /// <example>See samples/apps/train.cs (fine-tuning ImageNet weights) and samples/ImageClassification/Model/ResNetTraining.cs.</example>
    public static ResNetTrainer ResNet(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, ResNetTrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return new ResNetTrainer(HostSettings.From(catalog), options);
    }
}
