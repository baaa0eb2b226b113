namespace Microsoft.ML.ResNet;

/// <summary>
/// What <see cref="ResNetOnnxExporter"/> writes into an ONNX file besides the network: which ResNet a weights file
/// holds when it does not say, the labels, the input normalization and size, and whether the embedding is an output.
/// </summary>
/// <example>See the README's "Exporting to ONNX" and Microsoft.ML.ResNet.Tests/Export/WeightsExportTests.cs.</example>
public sealed record OnnxExportOptions
{
    /// <summary>
    /// The network a weights file holds. Null takes what the file says (the <c>.safetensors</c> that SaveWeights writes,
    /// seed-keyed state dicts and ONNX ResNets say it); other PyTorch <c>.pth</c> and <c>.safetensors</c> files do not, so
    /// set it for them.
    /// </summary>
    public ResNetArchitecture? Architecture { get; init; }

    /// <summary>Blocks per stage (four entries of at least 1) when they differ from <see cref="Architecture"/>'s own;
    /// null takes the file's (or the architecture's).</summary>
    public int[]? StageDepths { get; init; }

    /// <summary>Class labels in logit order, recorded in the <c>resnet.labels</c> metadata; null takes the weights
    /// file's labels, or "0".."K-1" when it has none.</summary>
    public IReadOnlyList<string>? Labels { get; init; }

    /// <summary>Per-channel (RGB) mean subtracted from the 0..1 pixels by the graph's first node; null takes the weights
    /// file's normalization (an imported ONNX ResNet has one) or ImageNet's (0.485, 0.456, 0.406).</summary>
    public float[]? Mean { get; init; }

    /// <summary>Per-channel (RGB) standard deviation the centred pixels are divided by; null as for <see cref="Mean"/>
    /// (ImageNet's: 0.229, 0.224, 0.225).</summary>
    public float[]? Std { get; init; }

    /// <summary>Fixed height of the <c>pixels</c> input (at least 32); 224 by default.</summary>
    public int InputHeight { get; init; } = Defaults.ImageSize;

    /// <summary>Fixed width of the <c>pixels</c> input (at least 32); 224 by default.</summary>
    public int InputWidth { get; init; } = Defaults.ImageSize;

    /// <summary>Also output the pooled embedding as <c>features</c> [N, F] (true by default). It costs no bytes: the
    /// graph computes that tensor anyway.</summary>
    public bool IncludeFeatures { get; init; } = true;

    /// <summary>Also output class activation maps as <c>heatmaps</c> [N, K, h, w] (false by default), where h x w is the
    /// last stage's spatial size (7x7 at 224x224): heatmaps[n, c] is the sum over channels k of fc.weight[c, k] times the last
    /// stage's feature map k (Zhou et al., CVPR 2016), so its mean over h x w plus fc.bias[c] is logits[n, c].</summary>
    public bool IncludeHeatMaps { get; init; }
}
