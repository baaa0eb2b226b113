namespace Microsoft.ML.ResNet;

/// <summary>Where the trainer's network starts from when <see cref="ResNetTrainerOptions.PretrainedWeightsPath"/> is not set.</summary>
public enum ResNetStartingWeights
{
    /// <summary>Random initialization: the network learns everything from the training images.</summary>
    Random,

    /// <summary>
    /// ImageNet-trained weights, then end-to-end fine-tuning. Give torchvision's ImageNet weights of the architecture as
    /// <see cref="ResNetTrainerOptions.PretrainedWeightsPath"/>, or reference the NuGet package
    /// <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c>, whose ImageNet ResNet (basic blocks 2/2/2/3) is then used offline.
    /// </summary>
    ImageNet,
}
