using Microsoft.ML.ResNet;

namespace ImageClassification.Model;

/// <summary>
/// The knobs of <c>train</c>, and its two recipes, each tuned on the embedded Fashion-MNIST sample on a 2-core CPU:
/// <see cref="FineTuned"/> (the default when ImageNet weights are at hand) and <see cref="FromScratch"/>.
/// </summary>
internal sealed record TrainSettings
{
    /// <summary>
    /// ImageNet weights (the DnnImageFeaturizer package's ResNet, basic blocks 2/2/2/3) fine-tuned end to end with the
    /// trainer's defaults for a pretrained start: the head first fitted to the frozen network's features, BatchNorm
    /// statistics kept, then AdamW at 1e-3 for the head and a tenth of it for the backbone, three epochs. The stem,
    /// layer1 and layer2 stay frozen: their generic edge and texture filters gain little from a small data set, and their
    /// backward pass is skipped. The input size follows the images (<see cref="ImageSizeFor"/>). Measured in the transfer
    /// benchmark (AMD EPYC, 2 cores, quiet): on the Fashion-MNIST split 0.866 in 97 s with this recipe, 0.872 in 142 s
    /// with four epochs and two frozen stages, against the built-in's 0.828 in 43 s; on the Tux Paint photos 0.966 with
    /// either (built-in 0.949). Below 1,000 training images no epochs run after the fitted head
    /// (<see cref="MinimumRowsToFineTune"/>): on the 246 Tux Paint photos the epochs had added nothing to the head's 0.966
    /// and cost twelve times the built-in's time; on the 2,000 Fashion-MNIST images fine-tuning lifts ours above the built-in.
    /// </summary>
    public static TrainSettings FineTuned { get; } = new()
    {
        StartingWeights = ResNetStartingWeights.ImageNet,
        Architecture = ResNetArchitecture.ResNet18,
        Epochs = 3,
        ImageSize = null,
        FrozenStages = 3,
        MinimumRowsToFineTune = 1000,
    };

    /// <summary>ResNet-34 from random weights: 32x32 inputs, batch 32, one-cycle SGD peaking at 0.03, 6 epochs.</summary>
    public static TrainSettings FromScratch { get; } = new()
    {
        StartingWeights = ResNetStartingWeights.Random,
        Architecture = ResNetArchitecture.ResNet34,
        Epochs = 6,
        ImageSize = 32,
        LearningRate = 0.03,
    };

    /// <summary>Random or ImageNet weights (ignored when <see cref="WeightsPath"/> is set).</summary>
    public ResNetStartingWeights StartingWeights { get; init; }

    /// <summary>Network depth (from ImageNet without a weights file: the package network's, which has basic blocks).</summary>
    public ResNetArchitecture Architecture { get; init; } = ResNetArchitecture.ResNet34;

    /// <summary>Passes over the training set.</summary>
    public int Epochs { get; init; } = 6;

    /// <summary>
    /// Images are resized to this square before training and scoring (32 is the smallest a ResNet accepts); null = chosen
    /// from the training images (<see cref="ImageSizeFor"/>), see <see cref="WithImageSizeFor"/>.
    /// </summary>
    public int? ImageSize { get; init; } = 32;

    /// <summary>Stages from the input kept as loaded when fine-tuning (see <c>ResNetTrainerOptions.FrozenStages</c>).</summary>
    public int FrozenStages { get; init; }

    /// <summary>
    /// The input size for ImageNet features on images whose shorter side is <paramref name="sourceSide"/> pixels: four
    /// times that side, a multiple of 16 from 112 to 224. ImageNet's networks learned objects spanning a hundred pixels or
    /// more, so small images are upscaled toward that; 224 is what they were trained at, and cost grows with the square.
    /// Measured with the featurizer package's network (AMD EPYC, 2 cores): the 28x28 Fashion-MNIST sample fine-tuned to
    /// 0.865 at 112x112, 0.831 at 96x96, 0.816 at 64x64; on the 96x96 Tux Paint photos the fitted head alone reached 0.966
    /// at 224x224 and 0.864 at 112x112.
    /// </summary>
    public static int ImageSizeFor(int sourceSide) => Math.Clamp((4 * sourceSide + 15) / 16 * 16, 112, 224);

    /// <summary>These settings with <see cref="ImageSize"/> chosen from the images when it is not set.</summary>
    public TrainSettings WithImageSizeFor(Func<int> medianShortSide) => ImageSize is null ? this with { ImageSize = ImageSizeFor(medianShortSide()) } : this;

    /// <summary>The resolved input size.</summary>
    /// <exception cref="InvalidOperationException">The size was left to the images and not chosen yet.</exception>
    public int Size => ImageSize ?? throw new InvalidOperationException($"The image size follows the training images: call {nameof(WithImageSizeFor)} first.");

    /// <summary>No epochs after the fitted head when the training data has fewer rows (see
    /// <c>ResNetTrainerOptions.MinimumRowsToFineTune</c>); null = always fine-tune.</summary>
    public int? MinimumRowsToFineTune { get; init; }

    /// <summary>Images per optimizer step.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Peak learning rate of the one-cycle schedule (the head's, when fine-tuning); null would take the trainer's default.</summary>
    public double? LearningRate { get; init; }

    /// <summary>A weights file to start from (fine-tuning); null starts from <see cref="StartingWeights"/>.</summary>
    public string? WeightsPath { get; init; }

    /// <summary>Seeds shuffling and initialization, so reruns compare.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Folder for epoch checkpoints (a rerun with the same settings resumes from it); null = no checkpoints.</summary>
    public string? CheckpointFolder { get; init; }

    /// <summary>The trainer's options for these settings; the caller adds columns and progress.</summary>
    public ResNetTrainerOptions ToTrainerOptions() => new()
    {
        Architecture = Architecture,
        ImageHeight = Size,
        ImageWidth = Size,
        FrozenStages = FrozenStages > 0 ? FrozenStages : null,
        Epochs = Epochs,
        BatchSize = BatchSize,
        LearningRate = LearningRate,
        StartingWeights = StartingWeights,
        PretrainedWeightsPath = WeightsPath,
        Seed = Seed,
        CheckpointFolder = CheckpointFolder,
        MinimumRowsToFineTune = MinimumRowsToFineTune,
        // Small images: holding the pixels in memory (3 x 96 x 96 floats = 110 KB each) saves decoding every epoch.
        CacheInMemory = (long)Size * Size <= 128 * 128,
    };
}
