namespace Microsoft.ML.ResNet;

/// <summary>The random crop applied to every training image (never to validation or scoring).</summary>
public enum ResNetCropAugmentation
{
    /// <summary>No crop.</summary>
    None,

    /// <summary>Pad each side with zeros, then take a random crop of the original size (the CIFAR recipe;
    /// suits small images).</summary>
    RandomCropWithPadding,

    /// <summary>Take a random region (area fraction and aspect ratio drawn at random) and resize it to the
    /// image size with bilinear interpolation (the ImageNet recipe; suits large images).</summary>
    RandomResizedCrop,
}
