using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Modeling;

/// <summary>One state-dict entry copied out of TorchSharp: name (torchvision's key), element type, shape and raw
/// little-endian bytes.</summary>
internal sealed record WeightsTensor(string Name, ScalarType Type, long[] Shape, byte[] Data)
{
    public long ElementCount => Shape.Aggregate(1L, (count, dimension) => count * dimension);
}

/// <summary>
/// A network's unfolded weights (BatchNorm kept apart from the convolutions, as training left them) in managed memory,
/// with what a self-describing file records beside them: what a scoring transformer keeps so that it can save its weights.
/// </summary>
/// <param name="Spec">The network's shape.</param>
/// <param name="Labels">Class labels in logit order.</param>
/// <param name="Normalization">Mean and standard deviation the network expects of 0..1 RGB pixels; null when unknown.</param>
/// <param name="Tensors">Every state-dict entry under torchvision's keys, in the model's order.</param>
internal sealed record NetworkWeights(ResNetSpec Spec, IReadOnlyList<string> Labels, ImageNormalization? Normalization, IReadOnlyList<WeightsTensor> Tensors)
{
    /// <summary>Copies <paramref name="model"/>'s state dict to managed memory (on the CPU, contiguous).</summary>
    /// <exception cref="ArgumentException">The label count differs from the model's class count.</exception>
    public static NetworkWeights Capture(ResNetModel model, IReadOnlyList<string> labels, ImageNormalization? normalization)
    {
        if (labels.Count != model.Spec.NumClasses)
        {
            throw new ArgumentException($"Got {labels.Count} labels for a network with {model.Spec.NumClasses} classes.", nameof(labels));
        }

        var tensors = new List<WeightsTensor>();
        foreach (var (name, tensor) in model.state_dict())
        {
            using var contiguous = tensor.detach().cpu().contiguous();
            if (contiguous.dtype is not (ScalarType.Float32 or ScalarType.Int64))
            {
                throw new NotSupportedException($"State-dict entry '{name}' is {contiguous.dtype}; weights files are written from float32 and int64 tensors.");
            }

            tensors.Add(new WeightsTensor(name, contiguous.dtype, contiguous.shape, contiguous.bytes.ToArray()));
        }

        return new NetworkWeights(model.Spec, [.. labels], normalization, tensors);
    }
}
