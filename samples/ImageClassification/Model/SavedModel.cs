using Microsoft.ML;
using Microsoft.ML.ResNet;

namespace ImageClassification.Model;

/// <summary>Opens a saved model.zip for scoring.</summary>
internal static class SavedModel
{
    /// <summary>
    /// Our loader first: it reopens the ResNet step as the batched ONNX Runtime transformer. A zip without a ResNet
    /// classifier in it (any other ML.NET model) still opens with ML.NET's own loader.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is not an ML.NET model.</exception>
    public static ITransformer Load(MLContext ml, string path)
    {
        try
        {
            return ResNetClassifierTransformer.Load(ml, path);
        }
        catch (InvalidDataException)
        {
            return ml.Model.Load(path, out _);
        }
    }
}
