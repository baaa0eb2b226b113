namespace Microsoft.ML.ResNet.Export;

/// <summary>
/// The names every ONNX file we export uses, so the exporter and the scorer cannot drift apart.
/// </summary>
/// <remarks>
/// Input <see cref="PixelsInput"/>: float [N, 3, H, W], RGB planes scaled to 0..1 (what ML.NET's
/// ExtractPixels gives with scaleImage 1/255); normalization is the graph's first nodes.
/// Outputs: <see cref="LogitsOutput"/> [N, K], <see cref="ProbabilitiesOutput"/> [N, K] (softmax),
/// and, when asked for at export, <see cref="FeaturesOutput"/> [N, F] (the pooled embedding) and
/// <see cref="HeatMapsOutput"/> [N, K, h, w] (class activation maps, see <see cref="HeatMapGraph"/>).
/// </remarks>
internal static class OnnxContract
{
    public const string PixelsInput = "pixels";
    public const string LogitsOutput = "logits";
    public const string ProbabilitiesOutput = "probabilities";
    public const string FeaturesOutput = "features";
    public const string HeatMapsOutput = "heatmaps";
    public const string BatchDimension = "batch";
    public const int Opset = 17;
    public const string ProducerName = "ResNetMl";

    /// <summary>Keys of the model's metadata_props.</summary>
    public static class Metadata
    {
        /// <summary>e.g. "ResNet34" (<see cref="ResNetArchitecture"/> name).</summary>
        public const string Architecture = "resnet.architecture";

        /// <summary><see cref="ResNetVariant"/> name.</summary>
        public const string Variant = "resnet.variant";

        /// <summary>JSON array of 4 ints: blocks in each stage (e.g. [2,2,2,3]). Absent in files written before
        /// custom depths existed, which have the architecture's own.</summary>
        public const string StageDepths = "resnet.stage_depths";

        /// <summary>JSON array of class label strings, in logit order.</summary>
        public const string Labels = "resnet.labels";

        /// <summary>JSON array of 3 floats (RGB).</summary>
        public const string Mean = "resnet.mean";

        /// <summary>JSON array of 3 floats (RGB).</summary>
        public const string Std = "resnet.std";

        /// <summary>JSON array [height, width] the network was trained/exported for.</summary>
        public const string InputSize = "resnet.input_size";

        /// <summary>Width of the <c>features</c> output (absent when not exported).</summary>
        public const string FeatureSize = "resnet.feature_size";
    }
}
