using Microsoft.ML.ResNet.Modeling;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Export.Emitters;

/// <summary>
/// Emits the ONNX nodes of a module by its type, recursing into children through the emitters.
/// Anything it does not know is refused by type and tree path, never skipped: a module the graph
/// leaves out would make ONNX Runtime disagree with TorchSharp silently.
/// </summary>
internal sealed class ModuleTreeWalker
{
    public ModuleTreeWalker(OnnxGraphBuilder graph) => Graph = graph;

    public OnnxGraphBuilder Graph { get; }

    /// <summary>Emits <paramref name="module"/> applied to the tensor named <paramref name="input"/>;
    /// returns the name of its output tensor.</summary>
    /// <exception cref="NotSupportedException">The module, or one below it, has no emitter.</exception>
    public string Emit(nn.Module module, string path, string input) => module switch
    {
        Sequential sequential => SequentialEmitter.Emit(this, sequential, path, input),
        BasicBlock block => ResidualBlockEmitter.EmitBasicBlock(this, block, path, input),
        Bottleneck block => ResidualBlockEmitter.EmitBottleneck(this, block, path, input),
        Conv2d convolution => ConvolutionEmitter.Emit(this, convolution, path, batchNorm: null, batchNormPath: null, input),
        BatchNorm2d batchNorm => BatchNormEmitter.Emit(this, batchNorm, path, input),
        ReLU => Graph.AddNode("Relu", path, [input]),
        MaxPool2d pool => PoolingEmitter.EmitMaxPool(this, pool, path, input),
        AvgPool2d pool => PoolingEmitter.EmitAveragePool(this, pool, path, input),
        AdaptiveAvgPool2d pool => PoolingEmitter.EmitAdaptiveAveragePool(this, pool, path, input),
        Linear linear => LinearEmitter.Emit(this, linear, path, input, Graph.UniqueName(path)),
        _ => throw Unsupported(path, module),
    };

    /// <summary>The error for a module the exporter cannot express; names its path and type.</summary>
    public static NotSupportedException Unsupported(string path, nn.Module module, string? reason = null) =>
        new($"{DisplayPath(path)}: {module.GetType().Name} is not supported by the ONNX exporter"
            + (reason is null
                ? ". Supported modules: Sequential, BasicBlock, Bottleneck, Conv2d, BatchNorm2d, ReLU, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d (1x1), Linear, and ResNetModel as the root."
                : $" ({reason})."));

    public static string ChildPath(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";

    private static string DisplayPath(string path) => path.Length == 0 ? "(root)" : path;
}
