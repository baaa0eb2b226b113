namespace Microsoft.ML.ResNet;

/// <summary>
/// Every default of the library, in one place: those its layers share (image size, batch sizes, normalization, columns)
/// here, and the trainer's, the batching predictor's and INT8 calibration's in the nested classes of Defaults.*.cs.
/// </summary>
internal static partial class Defaults
{
    /// <summary>
    /// The pixel column, read by the trainer and the scorer alike. ML.NET's trainers read their input vector from
    /// "Features" (ML.NET's own ImageClassificationTrainer too), so a pipeline that ends in <c>ExtractPixels("Features", ...)</c>
    /// trains and scores without naming a column; the model the trainer returns reads the column it was trained on.
    /// </summary>
    public const string FeatureColumnName = "Features";

    /// <summary>The pooled embedding the trainer's model writes: not "Features", which ML.NET reads as an input.</summary>
    public const string EmbeddingColumnName = "Embedding";
    public const string ImageColumnName = "Image";
    public const string ScoreColumnName = "Score";
    public const string PredictedLabelColumnName = "PredictedLabel";
    public const int BatchSize = 32;
    /// <summary>The side torchvision's ImageNet networks are trained at: the size weights are exported for and the trainer's.</summary>
    public const int ImageSize = 224;
    public const int ImageHeight = ImageSize;
    public const int ImageWidth = ImageSize;

    /// <summary>Smallest side for which every stage of the network still has at least one pixel (five halvings).</summary>
    public const int MinimumInputSize = 32;

    /// <summary>ImageNet's per-channel (RGB) mean of 0..1 pixels, as torchvision's pretrained weights expect; a fresh copy each time.</summary>
    public static float[] ImageNetMean => [0.485f, 0.456f, 0.406f];

    /// <summary>ImageNet's per-channel (RGB) standard deviation, with <see cref="ImageNetMean"/>.</summary>
    public static float[] ImageNetStd => [0.229f, 0.224f, 0.225f];
    // Off: a black image is a real image (night frames, blank crops), and training accepts it. Empty paths are
    // caught where the image is visible (ResNet34ClassifyImages) instead.
    public const bool RejectAllZeroPixels = false;

    /// <summary>ExtractPixels' scale that gives the 0..1 pixels our ONNX graphs expect.</summary>
    public const float PixelScale = 1f / 255;

    /// <summary>The largest batch we accept; beyond it the buffers (3 x 224 x 224 floats a row) outgrow any benefit.</summary>
    public const int MaxBatchSize = 1024;

    /// <summary>The model's folder and name in a Triton repository.</summary>
    public const string TritonModelName = "resnet";

    /// <summary>Largest batch Triton forms: the classifier's own default batch.</summary>
    public const int TritonMaxBatchSize = BatchSize;

    /// <summary>How long Triton holds a request to fill a batch (2 ms, as the library's batching predictor waits).</summary>
    public const int TritonMaxQueueDelayMicroseconds = 2000;
}
