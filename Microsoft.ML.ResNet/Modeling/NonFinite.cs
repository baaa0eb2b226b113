namespace Microsoft.ML.ResNet.Modeling;

/// <summary>Finds and names NaN and infinite values, for the scoring and the training row checks alike.</summary>
internal static class NonFinite
{
    /// <summary>The index of the first NaN or infinite value in <paramref name="values"/>, or -1.</summary>
    public static int IndexOf(ReadOnlySpan<float> values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>A non-finite value as text: "NaN", "+Infinity" or "-Infinity".</summary>
    public static string Text(float value) => float.IsNaN(value) ? "NaN" : value > 0 ? "+Infinity" : "-Infinity";
}
