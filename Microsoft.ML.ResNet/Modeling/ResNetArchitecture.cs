namespace Microsoft.ML.ResNet;

/// <summary>A member of the ResNet family, as defined by torchvision (He et al., 2015).</summary>
public enum ResNetArchitecture
{
    /// <summary>18 layers of basic blocks [2, 2, 2, 2]; 512-wide embedding.</summary>
    ResNet18,

    /// <summary>34 layers of basic blocks [3, 4, 6, 3]; 512-wide embedding.</summary>
    ResNet34,

    /// <summary>50 layers of bottleneck blocks [3, 4, 6, 3]; 2048-wide embedding.</summary>
    ResNet50,

    /// <summary>101 layers of bottleneck blocks [3, 4, 23, 3]; 2048-wide embedding.</summary>
    ResNet101,

    /// <summary>152 layers of bottleneck blocks [3, 8, 36, 3]; 2048-wide embedding.</summary>
    ResNet152,
}
