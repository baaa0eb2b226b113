using Microsoft.ML;
using Microsoft.ML.ResNet;

namespace ImageClassification.Model;

/// <summary>Opens a saved model.zip for scoring, and finds the ResNet classifier in a pipeline.</summary>
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

    /// <summary>The ResNet classifier of <paramref name="model"/>: the model itself or a step of its chain (at any depth).</summary>
    /// <param name="model">A fitted pipeline or a classifier.</param>
    /// <param name="source">Where the model came from, for the error message.</param>
    /// <exception cref="InvalidDataException">The model holds no ResNet classifier, or more than one.</exception>
    public static ResNetClassifierTransformer Classifier(ITransformer model, string source)
    {
        var found = Classifiers(model).ToList();
        return found.Count == 1
            ? found[0]
            : throw new InvalidDataException($"'{source}' holds {found.Count} ResNet classifiers; expected exactly one (a model saved by this app).");
    }

    private static IEnumerable<ResNetClassifierTransformer> Classifiers(ITransformer model) => model switch
    {
        ResNetClassifierTransformer classifier => [classifier],
        IEnumerable<ITransformer> chain => chain.SelectMany(Classifiers),
        _ => [],
    };
}
