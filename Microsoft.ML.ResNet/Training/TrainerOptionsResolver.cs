using Microsoft.ML.ResNet.Catalog;
using Microsoft.ML.ResNet.Modeling;

namespace Microsoft.ML.ResNet.Training;

/// <summary>Checks <see cref="ResNetTrainerOptions"/> and turns them into the training core's <see cref="TrainingSettings"/>.</summary>
internal static class TrainerOptionsResolver
{
    /// <summary>Throws for the first invalid option; the exception's ParamName is the option's name.</summary>
    public static void Validate(ResNetTrainerOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(options.LabelColumnName, nameof(options.LabelColumnName));
        ArgumentException.ThrowIfNullOrWhiteSpace(options.FeatureColumnName, nameof(options.FeatureColumnName));
        ArgumentException.ThrowIfNullOrWhiteSpace(options.ScoreColumnName, nameof(options.ScoreColumnName));
        ArgumentException.ThrowIfNullOrWhiteSpace(options.PredictedLabelColumnName, nameof(options.PredictedLabelColumnName));
        if (options.EmbeddingColumnName is not null)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(options.EmbeddingColumnName, nameof(options.EmbeddingColumnName));
        }

        var outputs = new[] { options.ScoreColumnName, options.PredictedLabelColumnName, options.EmbeddingColumnName }.OfType<string>().ToArray();
        if (outputs.Distinct(StringComparer.Ordinal).Count() != outputs.Length)
        {
            throw new ArgumentException($"Output column names must differ; got {string.Join(", ", outputs)}.", nameof(options.ScoreColumnName));
        }

        Defined(options.Architecture, nameof(options.Architecture));
        ResNetSpec.ValidateDepths(options.StageDepths, nameof(options.StageDepths));
        if (options.Variant is { } variant)
        {
            Defined(variant, nameof(options.Variant));
            CheckInputSize(variant, options.ImageHeight, options.ImageWidth);
        }

        if (options.Optimizer is { } optimizer)
        {
            Defined(optimizer, nameof(options.Optimizer));
        }
        Defined(options.LearningRateSchedule, nameof(options.LearningRateSchedule));
        Defined(options.Crop, nameof(options.Crop));
        Defined(options.EarlyStoppingMetric, nameof(options.EarlyStoppingMetric));
        AtLeast(options.ImageHeight, Defaults.MinimumInputSize, nameof(options.ImageHeight));
        AtLeast(options.ImageWidth, Defaults.MinimumInputSize, nameof(options.ImageWidth));
        if (options.Epochs is { } epochs)
        {
            AtLeast(epochs, 1, nameof(options.Epochs));
        }

        if (options.BatchSize is < 2 or > Defaults.MaxBatchSize)
        {
            throw new ArgumentOutOfRangeException(nameof(options.BatchSize), options.BatchSize, $"Expected 2 to {Defaults.MaxBatchSize} images per step (BatchNorm needs at least 2).");
        }

        if (options.LearningRate is { } rate && !(rate > 0 && double.IsFinite(rate)))
        {
            throw new ArgumentOutOfRangeException(nameof(options.LearningRate), rate, "Expected a learning rate greater than 0, or null for the optimizer's default.");
        }

        Fraction(options.Momentum, nameof(options.Momentum));
        if (options.WeightDecay is { } decay && !(decay >= 0 && double.IsFinite(decay)))
        {
            throw new ArgumentOutOfRangeException(nameof(options.WeightDecay), decay, "Expected a weight decay of 0 or more, or null for the optimizer's default.");
        }

        if (options.WarmupFraction is { } warmup)
        {
            Fraction(warmup, nameof(options.WarmupFraction));
        }

        if (options.StepSizeEpochs is { } stepSize)
        {
            AtLeast(stepSize, 1, nameof(options.StepSizeEpochs));
        }

        if (!(options.StepFactor > 0 && options.StepFactor <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(options.StepFactor), options.StepFactor, "Expected a factor greater than 0 and at most 1.");
        }

        Fraction(options.LabelSmoothing, nameof(options.LabelSmoothing));
        if (options.CropPadding is { } padding && (padding < 0 || padding * 2 >= Math.Min(options.ImageHeight, options.ImageWidth)))
        {
            throw new ArgumentOutOfRangeException(nameof(options.CropPadding), padding, $"Expected 0 to below half the smaller image side ({Math.Min(options.ImageHeight, options.ImageWidth) / 2}).");
        }

        if (!(options.RandomResizedCropMinScale > 0 && options.RandomResizedCropMinScale <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(options.RandomResizedCropMinScale), options.RandomResizedCropMinScale, "Expected an area fraction greater than 0 and at most 1.");
        }

        Channels(options.Mean, nameof(options.Mean), positive: false);
        Channels(options.Std, nameof(options.Std), positive: true);
        Fraction(options.ValidationFraction, nameof(options.ValidationFraction));
        if (options.ValidationFraction > 0 && options.ValidationData is not null)
        {
            throw new ArgumentException("Give either ValidationData or ValidationFraction, not both.", nameof(options.ValidationFraction));
        }

        if (options.EarlyStoppingPatience is { } patience)
        {
            AtLeast(patience, 1, nameof(options.EarlyStoppingPatience));
            if (options.ValidationData is null && options.ValidationFraction == 0)
            {
                throw new ArgumentException("Early stopping watches a validation metric: set ValidationData or ValidationFraction.", nameof(options.EarlyStoppingPatience));
            }
        }

        if (options.PretrainedWeightsPath is { } weights)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(weights, nameof(options.PretrainedWeightsPath));
            if (!File.Exists(weights))
            {
                throw new FileNotFoundException($"No weights file at '{weights}' (ResNetTrainerOptions.PretrainedWeightsPath).", weights);
            }
        }
        else if (options.FreezeBackbone && !options.StartsPretrained)
        {
            throw new ArgumentException("Freezing the backbone needs pretrained weights: set PretrainedWeightsPath or StartingWeights = ImageNet.", nameof(options.FreezeBackbone));
        }

        Defined(options.StartingWeights, nameof(options.StartingWeights));
        if (options.FrozenStages is { } frozen)
        {
            if (frozen is < 0 or > Defaults.Trainer.MaxFrozenStages)
            {
                throw new ArgumentOutOfRangeException(nameof(options.FrozenStages), frozen, $"Expected 0 to {Defaults.Trainer.MaxFrozenStages} frozen stages (1 = the stem, {Defaults.Trainer.MaxFrozenStages} = the stem and layer1 to layer3); to freeze layer4 as well, set FreezeBackbone.");
            }

            if (frozen > 0 && !options.StartsPretrained)
            {
                throw new ArgumentException("Freezing stages needs pretrained weights: set PretrainedWeightsPath or StartingWeights = ImageNet.", nameof(options.FrozenStages));
            }
        }

        if (options.HeadWarmupEpochs is { } warmupEpochs)
        {
            var total = Passes(options).Epochs;
            if (warmupEpochs < 0 || warmupEpochs >= total)
            {
                var whose = options.Epochs is null ? " (Epochs' default for this start and input size)" : string.Empty;
                throw new ArgumentOutOfRangeException(nameof(options.HeadWarmupEpochs), warmupEpochs, $"Expected 0 to {total - 1} head-only epochs: at least one of the {total} epochs{whose} must fine-tune the whole network.");
            }
        }

        if (options.BackboneLearningRateFactor is { } factor && !(factor > 0 && factor <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(options.BackboneLearningRateFactor), factor, "Expected a fraction of the learning rate greater than 0 and at most 1.");
        }

        if (options.GpuDeviceId is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options.GpuDeviceId), options.GpuDeviceId, "A GPU device id is 0 or more.");
        }

        if (options.CheckpointFolder is { } folder)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(folder, nameof(options.CheckpointFolder));
        }

        if (options.ShufflePoolRows is { } pool)
        {
            AtLeast(pool, 1, nameof(options.ShufflePoolRows));
        }

        if (options.NumberOfThreads is { } threads)
        {
            AtLeast(threads, 1, nameof(options.NumberOfThreads));
        }

        AtLeast(options.ProgressInterval, 1, nameof(options.ProgressInterval));
    }

    public static TrainingSettings Resolve(ResNetTrainerOptions options, int seed)
    {
        var optimizer = options.Optimizer ?? (options.StartsPretrained ? ResNetOptimizer.AdamW : ResNetOptimizer.Sgd);
        var sgd = optimizer == ResNetOptimizer.Sgd;
        var fitHeadFirst = options.FitHeadFirst ?? options.StartsPretrained;
        var rowBytes = 3L * options.ImageHeight * options.ImageWidth * sizeof(float);
        var (epochs, frozenStages) = Passes(options);
        return new TrainingSettings
        {
            Architecture = options.Architecture,
            Variant = options.Variant ?? ResNetVariant.TorchVision,
            StageDepths = options.StageDepths is null ? null : [.. options.StageDepths],
            ImageHeight = options.ImageHeight,
            ImageWidth = options.ImageWidth,
            Epochs = epochs,
            BatchSize = options.BatchSize,
            Optimizer = optimizer,
            LearningRate = options.LearningRate
                ?? (sgd ? Defaults.Trainer.SgdLearningRate * options.BatchSize / Defaults.Trainer.SgdReferenceBatchSize : Defaults.Trainer.AdamWLearningRate),
            Momentum = options.Momentum,
            Nesterov = options.Nesterov,
            WeightDecay = options.WeightDecay ?? (sgd ? Defaults.Trainer.SgdWeightDecay : Defaults.Trainer.AdamWWeightDecay),
            Schedule = options.LearningRateSchedule,
            WarmupFraction = options.WarmupFraction
                ?? (options.LearningRateSchedule == ResNetLearningRateSchedule.OneCycle ? Defaults.Trainer.OneCycleWarmupFraction : Defaults.Trainer.CosineWarmupFraction),
            StepSizeEpochs = options.StepSizeEpochs,
            StepFactor = options.StepFactor,
            LabelSmoothing = options.LabelSmoothing,
            Crop = options.Crop,
            CropPadding = options.CropPadding ?? Math.Max(1, Math.Min(options.ImageHeight, options.ImageWidth) / 8),
            RandomResizedCropMinScale = options.RandomResizedCropMinScale,
            HorizontalFlip = options.HorizontalFlip,
            Mean = [.. options.Mean],
            Std = [.. options.Std],
            ValidationFraction = options.ValidationFraction,
            EarlyStoppingPatience = options.EarlyStoppingPatience,
            EarlyStoppingMetric = options.EarlyStoppingMetric,
            Seed = seed,
            FreezeBackbone = options.FreezeBackbone,
            FitHeadFirst = fitHeadFirst,
            FrozenStages = frozenStages,
            FreezeBatchNormStatistics = options.FreezeBatchNormStatistics ?? options.StartsPretrained,
            UseBFloat16 = options.UseBFloat16,
            TrainInBFloat16 = options.TrainInBFloat16,
            HeadWarmupEpochs = options.FreezeBackbone ? 0
                : options.HeadWarmupEpochs ?? (options.StartsPretrained && !fitHeadFirst ? Math.Min(Defaults.Trainer.PretrainedHeadWarmupEpochs, epochs - 1) : 0),
            BackboneLearningRateFactor = options.BackboneLearningRateFactor
                ?? (options.StartsPretrained ? Defaults.Trainer.PretrainedBackboneLearningRateFactor : 1),
            CheckpointFolder = options.CheckpointFolder,
            CacheInMemory = options.CacheInMemory,
            ShufflePoolRows = options.ShufflePoolRows ?? (int)Math.Clamp(Defaults.Trainer.ShufflePoolBytes / rowBytes, 2L * options.BatchSize, int.MaxValue),
            PrefetchBatches = Defaults.Trainer.PrefetchBatches,
            ProgressInterval = options.ProgressInterval,
            Threads = options.NumberOfThreads,
        };
    }

    /// <summary>
    /// The epochs and frozen stages a run trains with: each as set, and each left null filled here. Fine-tuning ImageNet
    /// weights (<see cref="FollowsSizeRule"/>), the size rule fills them (<see cref="FineTuningPasses"/>): both from it when
    /// neither is set; with only the epochs set, the rule's frozen stages at its reference size (the stem, layer1 and
    /// layer2: the user's epochs of the rule's learning stages, whatever the input size); with only the frozen stages set,
    /// the rule's epochs for the input's area, at least one. Any other start: 10 epochs, nothing frozen.
    /// </summary>
    public static (int Epochs, int FrozenStages) Passes(ResNetTrainerOptions options)
    {
        if (!FollowsSizeRule(options))
        {
            return (options.Epochs ?? Defaults.Trainer.Epochs, options.FrozenStages ?? 0);
        }

        return (options.Epochs, options.FrozenStages) switch
        {
            (null, null) => FineTuningPasses.For(options.ImageHeight, options.ImageWidth),
            ({ } epochs, null) => (epochs, Defaults.Trainer.FineTuningFrozenStages),
            (null, { } frozen) => (FineTuningPasses.EpochsFor(options.ImageHeight, options.ImageWidth), frozen),
            ({ } epochs, { } frozen) => (epochs, frozen),
        };
    }

    /// <summary>
    /// Whether <see cref="Passes"/> takes its defaults from the size rule: the weights are declared ImageNet's
    /// (<see cref="ResNetStartingWeights.ImageNet"/>: the featurizer package's network, or a <see cref="ResNetTrainerOptions.PretrainedWeightsPath"/>
    /// file said to hold ImageNet weights) and the backbone fine-tunes. The rule's premises are ImageNet's: generic early
    /// stages worth keeping frozen, and passes measured against ML.NET's ImageNet featurizer. A weights file alone may hold
    /// anything (a run of the user's own saved to continue training), so it keeps the plain defaults, as random weights do.
    /// </summary>
    private static bool FollowsSizeRule(ResNetTrainerOptions options) =>
        options.StartingWeights == ResNetStartingWeights.ImageNet && !options.FreezeBackbone;

    /// <summary>The seed's wiring pools with a fixed 7x7 window: only 224x224 images reach it as 7x7.</summary>
    /// <exception cref="ArgumentOutOfRangeException">That variant with another size; ParamName is ImageHeight or ImageWidth.</exception>
    public static void CheckInputSize(ResNetVariant variant, int height, int width)
    {
        const int size = ResNetSpec.FixedPoolInputSize;
        if (variant == ResNetVariant.ProjectionShortcuts && (height != size || width != size))
        {
            throw new ArgumentOutOfRangeException(
                height != size ? nameof(ResNetTrainerOptions.ImageHeight) : nameof(ResNetTrainerOptions.ImageWidth),
                $"{height}x{width}",
                $"The {variant} variant (the seed's wiring) pools with a fixed 7x7 window and trains only on {size}x{size} images, not {height}x{width} (height x width). "
                + $"Resize to {size}x{size}, or use {nameof(ResNetVariant.TorchVision)} for other sizes.");
        }
    }

    private static void Defined<T>(T value, string name)
        where T : struct, Enum
    {
        if (!Enum.IsDefined(value))
        {
            throw new ArgumentOutOfRangeException(name, value, $"Expected one of {string.Join(", ", Enum.GetNames<T>())}.");
        }
    }

    private static void AtLeast(int value, int minimum, string name)
    {
        if (value < minimum)
        {
            throw new ArgumentOutOfRangeException(name, value, $"Expected {minimum} or more.");
        }
    }

    private static void Fraction(double value, string name)
    {
        if (!(value >= 0 && value < 1))
        {
            throw new ArgumentOutOfRangeException(name, value, "Expected a value from 0 to below 1.");
        }
    }

    private static void Channels(IReadOnlyList<float>? values, string name, bool positive)
    {
        if (values is null || values.Count != 3 || values.Any(v => !float.IsFinite(v) || (positive && v <= 0)))
        {
            throw new ArgumentException(
                $"Expected 3 finite values (R, G, B){(positive ? " greater than 0" : string.Empty)}; got [{(values is null ? "null" : string.Join(", ", values))}].", name);
        }
    }
}
