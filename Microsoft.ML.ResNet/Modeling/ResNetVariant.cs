namespace Microsoft.ML.ResNet;

/// <summary>Which wiring of the ResNet family to build.</summary>
public enum ResNetVariant
{
    /// <summary>torchvision's wiring: projection shortcuts only where shape changes, adaptive
    /// average pooling, so any input of at least 32x32 (non-square too) works.</summary>
    TorchVision,

    /// <summary>The original seed project's wiring: a 1x1 projection shortcut on the first block of
    /// every stage (stage 1 included) and a fixed 7x7 average pool, so inputs must be 224x224.</summary>
    ProjectionShortcuts,
}
