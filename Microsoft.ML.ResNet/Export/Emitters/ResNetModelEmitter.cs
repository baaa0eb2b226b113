using Microsoft.ML.ResNet.Modeling;
using TorchSharp.Modules;

namespace Microsoft.ML.ResNet.Export.Emitters;

/// <summary>The root: stem, four stages, pooling, flatten (the features), fc (the logits).</summary>
internal static class ResNetModelEmitter
{
    private static readonly string[] Known =
        ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"];

    /// <param name="walker">Where the nodes go.</param>
    /// <param name="model">The network.</param>
    /// <param name="input">The normalized pixels.</param>
    /// <param name="featuresOutput">Name for the flattened embedding, or null to generate one.</param>
    /// <param name="logitsOutput">Name for the fc output.</param>
    /// <returns>The names of the features and logits tensors.</returns>
    public static (string Features, string Logits) Emit(
        ModuleTreeWalker walker, ResNetModel model, string input, string? featuresOutput, string logitsOutput)
    {
        var children = ModuleChildren.Of(model, string.Empty, Known);
        var x = ConvolutionEmitter.EmitFolded(walker, children, "conv1", "bn1", input);
        foreach (var name in Known.Skip(2).SkipLast(1))
        {
            x = walker.Emit(children.Required<TorchSharp.torch.nn.Module>(name), children.PathOf(name), x);
        }

        var features = featuresOutput ?? walker.Graph.UniqueName("flatten");
        walker.Graph.AddNodeWithOutput("Flatten", features, [x], OnnxGraphBuilder.Int("axis", 1));
        var logits = LinearEmitter.Emit(walker, children.Required<Linear>("fc"), children.PathOf("fc"), features, logitsOutput);
        return (features, logits);
    }
}
