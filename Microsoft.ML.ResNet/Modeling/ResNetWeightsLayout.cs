namespace Microsoft.ML.ResNet;

/// <summary>The state-dict key names a weights file uses: which PyTorch class it loads into.</summary>
public enum ResNetWeightsLayout
{
    /// <summary>torchvision's names (<c>conv1.weight</c>, <c>layer1.0.bn1.weight</c>, <c>layer2.0.downsample.0.weight</c>,
    /// <c>fc.weight</c>): loads into <c>torchvision.models.resnetNN()</c>.</summary>
    TorchVision,

    /// <summary>
    /// The seed project's names (<c>pre.0.weight</c>, <c>pre.1.*</c>, <c>layerN.i.left.{0,1,3,4}.*</c>,
    /// <c>layerN.0.right.{0,1}.*</c>, <c>fc.*</c>): loads into the seed's own <c>ResNet</c> class. Only networks of the
    /// <see cref="ResNetVariant.ProjectionShortcuts"/> variant with basic blocks have this layout.
    /// </summary>
    Seed,
}
