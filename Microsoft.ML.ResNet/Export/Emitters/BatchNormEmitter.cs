using TorchSharp.Modules;

namespace Microsoft.ML.ResNet.Export.Emitters;

/// <summary>A BatchNorm2d that does not follow a Conv2d (so cannot be folded): ONNX BatchNormalization.</summary>
internal static class BatchNormEmitter
{
    /// <exception cref="NotSupportedException">No running statistics or no affine parameters.</exception>
    public static string Emit(ModuleTreeWalker walker, BatchNorm2d batchNorm, string path, string input)
    {
        if (batchNorm.running_mean is null || batchNorm.running_var is null || batchNorm.weight is null || batchNorm.bias is null)
        {
            throw ModuleTreeWalker.Unsupported(path, batchNorm, "needs running statistics and affine weight/bias");
        }

        var graph = walker.Graph;
        return graph.AddNode(
            "BatchNormalization",
            path,
            [
                input,
                graph.AddInitializer($"{path}.weight", batchNorm.weight),
                graph.AddInitializer($"{path}.bias", batchNorm.bias),
                graph.AddInitializer($"{path}.running_mean", batchNorm.running_mean),
                graph.AddInitializer($"{path}.running_var", batchNorm.running_var),
            ],
            OnnxGraphBuilder.Float("epsilon", (float)batchNorm.eps));
    }
}
