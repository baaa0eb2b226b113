using TorchSharp.Modules;

namespace Microsoft.ML.ResNet.Export.Emitters;

/// <summary>Linear as Gemm (y = x W^T + b, so transB = 1 with torch's [out, in] weight).</summary>
internal static class LinearEmitter
{
    public static string Emit(ModuleTreeWalker walker, Linear linear, string path, string input, string output)
    {
        var graph = walker.Graph;
        var weight = graph.AddInitializer($"{path}.weight", linear.weight!);
        string[] inputs = linear.bias is null ? [input, weight] : [input, weight, graph.AddInitializer($"{path}.bias", linear.bias)];
        graph.AddNodeWithOutput("Gemm", output, inputs, OnnxGraphBuilder.Int("transB", 1));
        return output;
    }
}
