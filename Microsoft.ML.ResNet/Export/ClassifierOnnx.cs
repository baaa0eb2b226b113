using Microsoft.ML.ResNet.Modeling;

namespace Microsoft.ML.ResNet.Export;

/// <summary>A network's weights turned into the ONNX graph every classifier scores through (trained or loaded from a weights file).</summary>
internal static class ClassifierOnnx
{
    /// <summary>
    /// The graph under <see cref="OnnxContract"/> with labels, normalization and input size in its metadata, and the
    /// network's unfolded weights (what <c>SaveWeights</c> writes: the graph has BatchNorm folded away).
    /// </summary>
    public static (byte[] Onnx, NetworkWeights Weights) Export(ResNetModel model, IReadOnlyList<string> labels, ImageNormalization normalization, int height, int width)
    {
        var onnx = ResNetOnnxExporter.ToBytes(model, new OnnxExportOptions
        {
            Labels = labels,
            Mean = normalization.Mean,
            Std = normalization.Std,
            InputHeight = height,
            InputWidth = width,

            // Costs no bytes (the embedding is a tensor the graph computes anyway) and makes SaveOnnx's file complete.
            IncludeFeatures = true,
        });
        return (onnx, NetworkWeights.Capture(model, labels, normalization));
    }
}
