using TorchSharp;
using static TorchSharp.torch;

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

    /// <summary>The filled rows as new tensors on <paramref name="device"/>: pixels [Count, 3, H, W] and int64 targets [Count].</summary>
    public (Tensor Input, Tensor Target) ToTensors(int height, int width, Device device)
    {
        var input = empty([Count, 3, height, width], ScalarType.Float32);
        input.data<float>().CopyFrom(new ReadOnlySpan<float>(Pixels, 0, Count * 3 * height * width));
        var target = tensor(Labels.AsSpan(0, Count).ToArray(), ScalarType.Int64);
        return device.type == DeviceType.CPU ? (input, target) : (input.to(device), target.to(device));
    }
}
