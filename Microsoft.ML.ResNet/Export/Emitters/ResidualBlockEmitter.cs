using Microsoft.ML.ResNet.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Export.Emitters;

/// <summary>
/// BasicBlock (two conv/bn pairs) and Bottleneck (three), mirroring their forward: relu between the
/// pairs, none after the last, then add the shortcut (identity or <c>downsample</c>) and relu.
/// </summary>
internal static class ResidualBlockEmitter
{
    public static string EmitBasicBlock(ModuleTreeWalker walker, BasicBlock block, string path, string input) =>
        Emit(walker, block, path, input, pairs: 2);

    public static string EmitBottleneck(ModuleTreeWalker walker, Bottleneck block, string path, string input) =>
        Emit(walker, block, path, input, pairs: 3);

    private static string Emit(ModuleTreeWalker walker, nn.Module block, string path, string input, int pairs)
    {
        var known = Enumerable.Range(1, pairs).SelectMany(i => new[] { $"conv{i}", $"bn{i}" }).Append("relu").Append("downsample").ToList();
        var children = ModuleChildren.Of(block, path, known);
        var relu = children.Required<nn.Module>("relu");
        var x = input;
        for (var i = 1; i <= pairs; i++)
        {
            x = ConvolutionEmitter.EmitFolded(walker, children, $"conv{i}", $"bn{i}", x);
            if (i < pairs)
            {
                x = walker.Emit(relu, children.PathOf("relu"), x);
            }
        }

        var shortcut = children.Optional("downsample") is { } downsample
            ? walker.Emit(downsample, children.PathOf("downsample"), input)
            : input;
        var sum = walker.Graph.AddNode("Add", ModuleTreeWalker.ChildPath(path, "add"), [x, shortcut]);
        return walker.Emit(relu, children.PathOf("relu"), sum);
    }
}
