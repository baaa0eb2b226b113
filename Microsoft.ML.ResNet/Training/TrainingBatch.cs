namespace Microsoft.ML.ResNet.Training;

/// <summary>A reusable buffer of one batch: normalized CHW pixels and 0-based class indices.</summary>
internal sealed class TrainingBatch
{
    public TrainingBatch(int capacity, int rowSize)
    {
        Pixels = new float[capacity * rowSize];
        Labels = new long[capacity];
    }

    public float[] Pixels { get; }

    public long[] Labels { get; }

    /// <summary>Rows filled, at most the capacity.</summary>
    public int Count { get; set; }
}
