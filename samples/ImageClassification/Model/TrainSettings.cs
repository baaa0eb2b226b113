using Microsoft.ML.ResNet;

namespace ImageClassification.Model;

/// <summary>
/// The knobs of <c>train</c>. The defaults are the recipe tuned on the embedded Fashion-MNIST sample (about 0.75
/// test accuracy in about two minutes on a 2-core CPU): 32x32 inputs, batch 32, one-cycle SGD peaking at 0.03, 6 epochs.
/// </summary>
internal sealed record TrainSettings
{
    /// <summary>Network depth.</summary>
    public ResNetArchitecture Architecture { get; init; } = ResNetArchitecture.ResNet34;

    /// <summary>Passes over the training set.</summary>
    public int Epochs { get; init; } = 6;

    /// <summary>Images are resized to this square before training and scoring (32 is the smallest a ResNet accepts).</summary>
    public int ImageSize { get; init; } = 32;

    /// <summary>Images per optimizer step.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Peak learning rate of the one-cycle schedule; null would take the trainer's batch-scaled default.</summary>
    public double? LearningRate { get; init; } = 0.03;

    /// <summary>A PyTorch state dict to start from (fine-tuning); null trains from scratch.</summary>
    public string? WeightsPath { get; init; }

    /// <summary>Seeds shuffling and initialization, so reruns compare.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Folder for epoch checkpoints (a rerun with the same settings resumes from it); null = no checkpoints.</summary>
    public string? CheckpointFolder { get; init; }
}
