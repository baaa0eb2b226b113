namespace Microsoft.ML.ResNet.Scoring;

/// <summary>
/// Schema errors in ML.NET's own wording (its <c>ExceptSchemaMismatch</c>: an <see cref="ArgumentOutOfRangeException"/>
/// "Schema mismatch for input column 'X': expected T, got U"), so ours read like the rest of a pipeline's.
/// </summary>
internal static class SchemaErrors
{
    /// <summary>A column the schema lacks; the message lists the columns it has.</summary>
    public static ArgumentOutOfRangeException Missing(string parameterName, string role, string column, IEnumerable<string> existing) =>
        new(parameterName, $"Could not find {role} column '{column}'. The input has: {string.Join(", ", existing)}.");

    /// <summary>A column of the wrong type, with what would fix it.</summary>
    public static ArgumentOutOfRangeException Mismatch(string parameterName, string role, string column, string expected, object actual, string advice) =>
        new(parameterName, $"Schema mismatch for {role} column '{column}': expected {expected}, got {actual}. {advice}");

    /// <summary>A pixel column of the wrong type or size; the expected type is spelled as ExtractPixels' output type prints.</summary>
    /// <param name="parameterName">The argument the schema came in.</param>
    /// <param name="column">The pixel column.</param>
    /// <param name="height">The height the reader expects.</param>
    /// <param name="width">The width the reader expects.</param>
    /// <param name="actual">The column's type.</param>
    /// <param name="reader">Who reads the pixels ("The model", "The trainer"), for the advice.</param>
    public static ArgumentOutOfRangeException Pixels(string parameterName, string column, int height, int width, object actual, string reader) =>
        Mismatch(
            parameterName, "input", column, $"Vector<Single, 3, {height}, {width}>", actual,
            $"{reader} reads 3 x {height} x {width} pixels (height x width): ResizeImages to height {height}, width {width}, then ExtractPixels (CHW planes, scaleImage: 1f / 255).");
}
