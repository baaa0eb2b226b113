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
    /// trainer's defaults for a pretrained start: AdamW at 1e-3 for the head and a tenth of it for the backbone, one
    /// head-only epoch, then four of the whole network. 112x112: Fashion-MNIST's 28x28 images upscaled, as ImageNet's
    /// features want objects near their own scale (SGD runs on the sample: 0.865 at 112x112, 0.831 at 96x96, 0.816 at
    /// 64x64), at a quarter of 224x224's cost.
    /// </summary>
    public static TrainSettings FineTuned { get; } = new()
    {
        StartingWeights = ResNetStartingWeights.ImageNet,
        Architecture = ResNetArchitecture.ResNet18,
        Epochs = 5,
        ImageSize = 112,
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

    /// <summary>Images are resized to this square before training and scoring (32 is the smallest a ResNet accepts).</summary>
    public int ImageSize { get; init; } = 32;

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
        ImageHeight = ImageSize,
        ImageWidth = ImageSize,
        Epochs = Epochs,
        BatchSize = BatchSize,
        LearningRate = LearningRate,
        StartingWeights = StartingWeights,
        PretrainedWeightsPath = WeightsPath,
        Seed = Seed,
        CheckpointFolder = CheckpointFolder,
        // Small images: holding the pixels in memory (3 x 96 x 96 floats = 110 KB each) saves decoding every epoch.
        CacheInMemory = (long)ImageSize * ImageSize <= 128 * 128,
    };
}
