namespace Microsoft.ML.ResNet.Scoring;

/// <summary>
/// Rejects pixel rows that would score as confident nonsense. NaN: ONNX Runtime would propagate it
/// into NaN probabilities and an arbitrary predicted label. All zeros: LoadImages turns an empty
/// path into an all-black image without complaint, so an all-zero row almost always means "no image".
/// </summary>
internal static class PixelChecks
{
    /// <summary>Null when the row is fine, else what is wrong with it.</summary>
    public static string? Problem(ReadOnlySpan<float> pixels, bool rejectAllZero)
    {
        var index = pixels.IndexOfAnyExcept(0f);
        if (index < 0)
        {
            return rejectAllZero
                ? "every pixel is 0, which is what LoadImages produces for an empty image path; set RejectAllZeroPixels = false to score genuinely black images"
                : null;
        }

        for (var i = index; i < pixels.Length; i++)
        {
            if (float.IsNaN(pixels[i]))
            {
                return $"pixel {i} is NaN (the row is rejected rather than scored as NaN probabilities)";
            }
        }

        return null;
    }
}
