namespace Microsoft.ML.ResNet.Export;

/// <summary>What an exported ONNX file carries besides the network: labels, normalization, input size.</summary>
internal sealed record OnnxExportOptions
{
    /// <summary>Class labels in logit order; null means "0".."K-1".</summary>
    public IReadOnlyList<string>? Labels { get; init; }

    /// <summary>Per-channel (RGB) mean subtracted from the 0..1 pixels by the graph's first node.</summary>
    public float[] Mean { get; init; } = Defaults.Mean;

    /// <summary>Per-channel (RGB) standard deviation the centred pixels are divided by.</summary>
    public float[] Std { get; init; } = Defaults.Std;

    /// <summary>Fixed height of the <c>pixels</c> input.</summary>
    public int InputHeight { get; init; } = Defaults.InputSize;

    /// <summary>Fixed width of the <c>pixels</c> input.</summary>
    public int InputWidth { get; init; } = Defaults.InputSize;

    /// <summary>Also output the pooled embedding as <c>features</c> [N, F].</summary>
    public bool IncludeFeatures { get; init; }

    internal static class Defaults
    {
        public const int InputSize = 224;

        /// <summary>Smallest side for which every stage still has at least one pixel.</summary>
        public const int MinimumInputSize = 32;

        /// <summary>ImageNet statistics, as torchvision's pretrained weights expect.</summary>
        public static float[] Mean => [0.485f, 0.456f, 0.406f];

        public static float[] Std => [0.229f, 0.224f, 0.225f];
    }
}
