using Microsoft.ML.ResNet;

namespace ImageClassification.Model;

/// <summary>The knobs of <c>train</c>; defaults fit the embedded sample set on a 2-core CPU in well under 3 minutes.</summary>
internal sealed record TrainSettings
{
    /// <summary>Network depth.</summary>
    public ResNetArchitecture Architecture { get; init; } = ResNetArchitecture.ResNet34;

    /// <summary>Passes over the training set.</summary>
    public int Epochs { get; init; } = 3;

    /// <summary>Images are resized to this square before training and scoring (32 is the smallest a ResNet accepts).</summary>
    public int ImageSize { get; init; } = 32;

    /// <summary>Images per optimizer step.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Peak learning rate; null keeps the trainer's default.</summary>
    public double? LearningRate { get; init; }

    /// <summary>A PyTorch state dict to start from (fine-tuning); null trains from scratch.</summary>
    public string? WeightsPath { get; init; }

    /// <summary>Seeds shuffling and initialization, so reruns compare.</summary>
    public int Seed { get; init; } = 1;
}
