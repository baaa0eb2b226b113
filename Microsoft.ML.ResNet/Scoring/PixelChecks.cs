using Microsoft.ML.ResNet.Modeling;

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

        var bad = NonFinite.IndexOf(pixels[index..]);
        return bad < 0
            ? null
            : $"pixel {index + bad} is {NonFinite.Text(pixels[index + bad])} (the row is rejected rather than scored as NaN probabilities)";
    }

    /// <summary>True when every pixel is 0: a black image, or no image at all.</summary>
    public static bool IsAllZero(ReadOnlySpan<float> pixels) => pixels.IndexOfAnyExcept(0f) < 0;

    /// <summary>Null when every score of the row is a number, else which one is not.</summary>
    public static string? OutputProblem(ReadOnlySpan<float> scores)
    {
        var bad = NonFinite.IndexOf(scores);
        return bad < 0
            ? null
            : $"the model's score {bad} is {NonFinite.Text(scores[bad])}, so no label can be chosen (are the network's weights NaN or infinite?)";
    }
}
