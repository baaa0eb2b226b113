using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Export.Emitters;

/// <summary>Sequential: children in order, a Conv2d directly followed by a BatchNorm2d folded into one Conv.</summary>
internal static class SequentialEmitter
{
    public static string Emit(ModuleTreeWalker walker, Sequential sequential, string path, string input)
    {
        var children = sequential.named_children().ToList();
        var x = input;
        for (var i = 0; i < children.Count; i++)
        {
            var (name, child) = children[i];
            var childPath = ModuleTreeWalker.ChildPath(path, name);
            if (child is Conv2d convolution && i + 1 < children.Count && children[i + 1].Item2 is BatchNorm2d batchNorm)
            {
                x = ConvolutionEmitter.Emit(walker, convolution, childPath, batchNorm, ModuleTreeWalker.ChildPath(path, children[i + 1].Item1), x);
                i++;
            }
            else
            {
                x = walker.Emit(child, childPath, x);
            }
        }

        return x;
    }
}
