using Microsoft.ML;
using Microsoft.ML.Transforms;

namespace ImageClassification.Model;

/// <summary>Column names and the image preprocessing shared by training, evaluation and prediction.</summary>
internal static class ImagePipeline
{
    public const string ImagePathColumn = "ImagePath";
    public const string ImageColumn = "Image";
    // The column ML.NET trainers read, and the ResNet trainer's and classifier's default: no option needs to name it.
    public const string FeaturesColumn = "Features";
    public const string LabelColumn = "Label";
    public const string ScoreColumn = "Score";
    public const string PredictedLabelColumn = "PredictedLabel";

    /// <summary>File path -> decoded image -> square resize -> CHW float pixels in 0..1 (what the ResNet expects).</summary>
    public static IEstimator<ITransformer> LoadPixels(MLContext ml, int imageSize) =>
        ml.Transforms.LoadImages(ImageColumn, imageFolder: null, ImagePathColumn)
            .Append(ml.Transforms.ResizeImages(ImageColumn, imageSize, imageSize, ImageColumn))
            .Append(ml.Transforms.ExtractPixels(FeaturesColumn, ImageColumn, scaleImage: 1f / 255));

    /// <summary>
    /// Label text -> key. Sorted by value so the key order (the order of the scores, the confusion matrix
    /// and the exported labels) is the alphabetical order of the label folders, whatever order rows come in.
    /// </summary>
    public static IEstimator<ITransformer> MapLabelToKey(MLContext ml) =>
        ml.Transforms.Conversion.MapValueToKey(LabelColumn, LabelColumn, keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue);
}
