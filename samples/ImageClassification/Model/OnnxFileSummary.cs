using Microsoft.ML.OnnxRuntime;

namespace ImageClassification.Model;

/// <summary>Opens an ONNX file with ONNX Runtime (proving it loads) and says what goes in and out.</summary>
internal static class OnnxFileSummary
{
    /// <summary>e.g. "inputs pixels [Nx3x112x112]; outputs logits [Nx10], probabilities [Nx10], features [Nx512]".</summary>
    public static string Describe(string onnxPath)
    {
        using var session = new InferenceSession(onnxPath);
        static string Shape(NodeMetadata m) => string.Join('x', m.Dimensions.Select(d => d < 0 ? "N" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var inputs = string.Join(", ", session.InputMetadata.Select(i => $"{i.Key} [{Shape(i.Value)}]"));
        var outputs = string.Join(", ", session.OutputMetadata.Select(o => $"{o.Key} [{Shape(o.Value)}]"));
        return $"inputs {inputs}; outputs {outputs}";
    }
}
