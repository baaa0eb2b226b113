namespace Microsoft.ML.ResNet.Scoring;

/// <summary>
/// Rejects rows that would score as confident nonsense. NaN or infinite pixels: ONNX Runtime would propagate
/// them into NaN probabilities and an arbitrary predicted label. NaN or infinite scores (a model with NaN
/// weights): the argmax of NaNs is label 0, silently. All zeros only on request: a black image is a real image,
/// but LoadImages also makes one of an empty path.
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
                ? "every pixel is 0 and RejectAllZeroPixels is on (LoadImages produces that for an empty image path; set it to false to score genuinely black images)"
                : null;
        }

        for (var i = index; i < pixels.Length; i++)
        {
            if (!float.IsFinite(pixels[i]))
            {
                return $"pixel {i} is {Describe(pixels[i])} (the row is rejected rather than scored as NaN probabilities)";
            }
        }

        return null;
    }

    /// <summary>True when every pixel is 0: a black image, or no image at all.</summary>
    public static bool IsAllZero(ReadOnlySpan<float> pixels) => pixels.IndexOfAnyExcept(0f) < 0;

    /// <summary>Null when every score of the row is a number, else which one is not.</summary>
    public static string? OutputProblem(ReadOnlySpan<float> scores)
    {
        for (var i = 0; i < scores.Length; i++)
        {
            if (!float.IsFinite(scores[i]))
            {
                return $"the model's score {i} is {Describe(scores[i])}, so no label can be chosen (are the network's weights NaN or infinite?)";
            }
        }

        return null;
    }

    private static string Describe(float value) => float.IsNaN(value) ? "NaN" : value > 0 ? "+Infinity" : "-Infinity";
}
