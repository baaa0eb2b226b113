namespace Microsoft.ML.ResNet;

/// <summary>What a <see cref="ResNetBatchPredictor"/> returns for one image.</summary>
public sealed class ResNetPrediction
{
    internal ResNetPrediction(IReadOnlyList<ResNetLabelScore> top, byte[]? heatMapPng)
    {
        Top = top;
        HeatMapPng = heatMapPng;
    }

    /// <summary>The best <see cref="ResNetPredictorOptions.TopK"/> labels, highest probability first.</summary>
    public IReadOnlyList<ResNetLabelScore> Top { get; }

    /// <summary>The most probable label.</summary>
    public string PredictedLabel => Top[0].Label;

    /// <summary>The probability of <see cref="PredictedLabel"/>.</summary>
    public float Score => Top[0].Score;

    /// <summary>The predicted class's activation map over the image, as PNG bytes; null unless
    /// <see cref="ResNetPredictorOptions.IncludeHeatMap"/> is set.</summary>
    public byte[]? HeatMapPng { get; }
}
