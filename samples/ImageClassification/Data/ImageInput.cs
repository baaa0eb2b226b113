namespace ImageClassification.Data;

/// <summary>One row of the data the pipeline reads: an image file and, for training and evaluation, its label.</summary>
public sealed class ImageInput
{
    /// <summary>Full path of the image file.</summary>
    public string ImagePath { get; set; } = string.Empty;

    /// <summary>The label: the name of the folder the image is in (empty when predicting).</summary>
    public string Label { get; set; } = string.Empty;
}
