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
    /// defaults for them: the head first fitted to the frozen network's features, BatchNorm statistics kept, then AdamW at
    /// 1e-3 for the head and a tenth of it for the backbone. The input size follows the images (<see cref="ImageSizeFor"/>);
    /// the epochs and frozen stages are left to the trainer, which chooses them from the input size (see
    /// <c>ResNetTrainerOptions.Epochs</c>): at 112x112, three epochs of layer3, layer4 and the head; at 224x224, one epoch of
    /// layer4 and the head. Every set is fine-tuned, however few its images.
    /// </summary>
    public static TrainSettings FineTuned { get; } = new()
    {
        StartingWeights = ResNetStartingWeights.ImageNet,
        Architecture = ResNetArchitecture.ResNet18,
        Epochs = null,
        ImageSize = null,
        FrozenStages = null,
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

    /// <summary>Random or ImageNet weights; with <see cref="WeightsPath"/> set, ImageNet says the file holds ImageNet weights, so
    /// the trainer's defaults for fine-tuning them apply (see <c>ResNetTrainerOptions.PretrainedWeightsPath</c>).</summary>
    public ResNetStartingWeights StartingWeights { get; init; }

    /// <summary>Network depth (from ImageNet without a weights file: the package network's, which has basic blocks).</summary>
    public ResNetArchitecture Architecture { get; init; } = ResNetArchitecture.ResNet34;

    /// <summary>Passes over the training set; null leaves them to the trainer (<c>ResNetTrainerOptions.Epochs</c>: from ImageNet
    /// weights, chosen from the input size).</summary>
    public int? Epochs { get; init; } = 6;

    /// <summary>
    /// Images are resized to this square before training and scoring (32 is the smallest a ResNet accepts); null = chosen
    /// from the training images (<see cref="ImageSizeFor"/>), see <see cref="ForImages"/>.
    /// </summary>
    public int? ImageSize { get; init; } = 32;

    /// <summary>Stages from the input kept as loaded when fine-tuning; null leaves them to the trainer
    /// (<c>ResNetTrainerOptions.FrozenStages</c>).</summary>
    public int? FrozenStages { get; init; }

    /// <summary>
    /// The input size for ImageNet features on images whose shorter side is <paramref name="sourceSide"/> pixels: four
    /// times that side, a multiple of 16 from 112 to 224. ImageNet's networks learned objects spanning a hundred pixels or
    /// more, so small images are upscaled toward that; 224 is what they were trained at, and cost grows with the square.
    /// Measured with the featurizer package's network (AMD EPYC, 2 cores): the 28x28 Fashion-MNIST sample fine-tuned to
    /// 0.865 at 112x112, 0.831 at 96x96, 0.816 at 64x64; on the 96x96 Tux Paint photos the fitted head alone reached 0.966
    /// at 224x224 and 0.864 at 112x112.
    /// </summary>
    public static int ImageSizeFor(int sourceSide) => Math.Clamp((4 * sourceSide + 15) / 16 * 16, 112, 224);

    /// <summary>These settings for the training images: <see cref="ImageSize"/> chosen from them when it is not set.</summary>
    public TrainSettings ForImages(Func<int> medianShortSide) =>
        ImageSize is null ? this with { ImageSize = ImageSizeFor(medianShortSide()) } : this;

    /// <summary>What the trainer will run with these settings: their epochs and frozen stages, or the trainer's defaults
    /// for the ones left null (which need the input size: call <see cref="ForImages"/> first).</summary>
    public (int Epochs, int FrozenStages) Passes
    {
        get
        {
            var options = ToTrainerOptions();
            return (options.ResolvedEpochs, options.ResolvedFrozenStages);
        }
    }

    /// <summary>The stages that learn after <paramref name="frozenStages"/> (<c>ResNetTrainerOptions.FrozenStages</c>' numbering), in words.</summary>
    public static string LearningStages(int frozenStages) => frozenStages switch
    {
        0 => "all stages",
        1 => "layer1-layer4 and the head",
        4 => "layer4 and the head",
        _ => $"layer{frozenStages}-layer4 and the head",
    };

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
        FrozenStages = FrozenStages,
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
