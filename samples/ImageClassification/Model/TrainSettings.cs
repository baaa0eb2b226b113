using Microsoft.ML.ResNet;

namespace ImageClassification.Model;

/// <summary>
/// The knobs of <c>train</c>, and its two recipes, each tuned on the embedded Fashion-MNIST sample on a 2-core CPU:
/// <see cref="FineTuned"/> (the default when ImageNet weights are at hand) and <see cref="FromScratch"/>.
/// </summary>
internal sealed record TrainSettings
{
    /// <summary>
    /// ImageNet weights (the DnnImageFeaturizer package's ResNet, basic blocks 2/2/2/3) fine-tuned with the trainer's
    /// defaults for a pretrained start: the head first fitted to the frozen network's features, BatchNorm statistics kept,
    /// then AdamW at 1e-3 for the head and a tenth of it for the backbone. The input size follows the images
    /// (<see cref="ImageSizeFor"/>), and the learning passes follow the input size (<see cref="PassesFor"/>): at 112x112,
    /// three epochs of layer3, layer4 and the head (the stem, layer1 and layer2 frozen: their generic edge and texture
    /// filters gain little from a small data set, and their output is computed once); at 224x224, one epoch of layer4 and
    /// the head. Every set is fine-tuned, however few its images: an epoch costs in proportion to the rows, as the
    /// built-in's one pass does, so the row count does not change the ratio of the two; the input's area does.
    /// Measured in the transfer benchmark (AMD EPYC, 2 cores; ratios to the built-in from the same run): see
    /// <see cref="PassesFor"/>.
    /// </summary>
    public static TrainSettings FineTuned { get; } = new()
    {
        StartingWeights = ResNetStartingWeights.ImageNet,
        Architecture = ResNetArchitecture.ResNet18,
        Epochs = 3,
        ImageSize = null,
        FrozenStages = 3,
        PassesFollowImageSize = true,
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

    /// <summary>Passes over the training set (at <see cref="PassesReferenceSize"/> when <see cref="PassesFollowImageSize"/>).</summary>
    public int Epochs { get; init; } = 6;

    /// <summary>
    /// Images are resized to this square before training and scoring (32 is the smallest a ResNet accepts); null = chosen
    /// from the training images (<see cref="ImageSizeFor"/>), see <see cref="ForImages"/>.
    /// </summary>
    public int? ImageSize { get; init; } = 32;

    /// <summary>Stages from the input kept as loaded when fine-tuning (see <c>ResNetTrainerOptions.FrozenStages</c>); at
    /// <see cref="PassesReferenceSize"/> when <see cref="PassesFollowImageSize"/>.</summary>
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

    /// <summary>
    /// <see cref="Epochs"/> and <see cref="FrozenStages"/> are the recipe's values at <see cref="PassesReferenceSize"/>
    /// and are adapted to the input size by <see cref="PassesFor"/> once it is known (<see cref="ForImages"/>).
    /// </summary>
    public bool PassesFollowImageSize { get; init; }

    /// <summary>The input side at which <see cref="Epochs"/> and <see cref="FrozenStages"/> apply as given when the passes
    /// follow the image size.</summary>
    public const int PassesReferenceSize = 112;

    // Every stage before layer4 frozen: ResNetTrainerOptions' largest FrozenStages.
    private const int LastFrozenStage = 4;

    /// <summary>
    /// The epochs and frozen stages for a <paramref name="size"/>x<paramref name="size"/> input: the learning passes' cost
    /// is held near that of <see cref="Epochs"/> epochs at 112x112. An epoch's arithmetic grows with the input's area, so the
    /// epochs shrink by the same factor (rounded down); where not even one epoch of the learning stages fits, one epoch
    /// trains only layer4 and the head (every stage before it frozen and computed once: layer4 holds about 60% of layer3
    /// and layer4's multiply-adds in the package's network). Measured in the transfer benchmark (AMD EPYC, 2 cores, ratios
    /// to the built-in from the same run; README, transfer runs F to J): the 28x28 Fashion-MNIST split at 112x112 (3
    /// epochs, layer3 and layer4 learn) 0.864 in 1.24-1.47x the built-in's time (quiet) and 0.87x (under load); the 96x96
    /// Tux Paint photos at 224x224: one epoch of layer4 0.983 in 1.78x (quiet; 1.05-1.31x under load); under load, one
    /// epoch of layer3 and layer4 0.966 in 1.01x, three epochs of layer3 and layer4 0.983 in 4.06x, the fitted head alone 0.966 (the built-in: 0.949).
    /// Sizes between 112 and 224 follow the same rule unmeasured.
    /// </summary>
    public (int Epochs, int FrozenStages) PassesFor(int size)
    {
        if (!PassesFollowImageSize)
        {
            return (Epochs, FrozenStages);
        }

        // Smaller inputs keep the recipe's epochs: the rule only spares larger ones the cost of their area.
        var epochs = Math.Min(Epochs, (int)(Epochs * ((double)PassesReferenceSize * PassesReferenceSize / ((double)size * size))));
        return epochs >= 1 ? (epochs, FrozenStages) : (1, LastFrozenStage);
    }

    /// <summary>
    /// These settings for the training images: <see cref="ImageSize"/> chosen from them when it is not set, then the
    /// passes for that size when they follow it (<see cref="PassesFor"/>).
    /// </summary>
    public TrainSettings ForImages(Func<int> medianShortSide)
    {
        var sized = ImageSize is null ? this with { ImageSize = ImageSizeFor(medianShortSide()) } : this;
        if (!sized.PassesFollowImageSize)
        {
            return sized;
        }

        var (epochs, frozenStages) = sized.PassesFor(sized.Size);
        return sized with { Epochs = epochs, FrozenStages = frozenStages, PassesFollowImageSize = false };
    }

    /// <summary>The resolved input size.</summary>
    /// <exception cref="InvalidOperationException">The size was left to the images and not chosen yet.</exception>
    public int Size => ImageSize ?? throw new InvalidOperationException($"The image size follows the training images: call {nameof(ForImages)} first.");

    /// <summary>Images per optimizer step.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Peak learning rate of the one-cycle schedule (the head's, when fine-tuning); null would take the trainer's default.</summary>
    public double? LearningRate { get; init; }

    /// <summary>A weights file to start from (fine-tuning); null starts from <see cref="StartingWeights"/>.</summary>
    public string? WeightsPath { get; init; }

    /// <summary>Seeds shuffling and initialization, so reruns compare.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Compute the learning passes in bfloat16 (<c>ResNetTrainerOptions.TrainInBFloat16</c>).</summary>
    public bool TrainInBFloat16 { get; init; }

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
        TrainInBFloat16 = TrainInBFloat16,
        // Small images: holding the pixels in memory (3 x 96 x 96 floats = 110 KB each) saves decoding every epoch.
        CacheInMemory = (long)Size * Size <= 128 * 128,
    };
}
