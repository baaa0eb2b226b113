namespace Microsoft.ML.ResNet.Export.Quantization;

/// <summary>The float range one activation tensor is quantized over, and its UINT8 scale and zero point.</summary>
/// <remarks>
/// Activations are UINT8 because ONNX Runtime's x86 CPU kernels multiply unsigned activations by signed weights
/// (U8S8: AVX-512 VNNI's vpdpbusd, AVX2's vpmaddubsw); its QDQ fusion does not take INT8 activations on x86 at all.
/// </remarks>
internal readonly record struct ActivationRange(float Min, float Max)
{
    private const int QuantizedMax = byte.MaxValue;

    /// <summary>The range widened to hold 0, which must be exact (padding, ReLU's floor).</summary>
    public (float Scale, byte ZeroPoint) ToUInt8()
    {
        var min = Math.Min(Min, 0f);
        var max = Math.Max(Max, 0f);
        var scale = (max - min) / QuantizedMax;
        if (!(scale > 0) || !float.IsFinite(scale))
        {
            throw new ArgumentException($"An activation range must be finite and not a single value; got [{Min}, {Max}].");
        }

        var zeroPoint = Math.Clamp(MathF.Round(-min / scale), 0, QuantizedMax);
        return (scale, (byte)zeroPoint);
    }
}
