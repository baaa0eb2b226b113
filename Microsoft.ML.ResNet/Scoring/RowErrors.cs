using Microsoft.ML.ResNet.Modeling;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>
/// Builds the error for a row that cannot be scored, naming the row and the values of its text
/// columns (the image path among them), and unwrapping ML.NET's worker wrappers so the real cause
/// (file not found, invalid image) is the inner exception.
/// </summary>
internal sealed class RowErrors
{
    private readonly RowDescription _row;

    /// <summary>Uses the active scalar text columns of <paramref name="row"/>.</summary>
    public RowErrors(DataViewRow row)
    {
        _row = new RowDescription(row);
    }

    /// <summary>The scalar text columns a row description can show; activate them on the input cursor.</summary>
    public static IEnumerable<DataViewSchema.Column> DescribingColumns(DataViewSchema schema) =>
        RowDescription.DescribingColumns(schema);

    public InvalidOperationException Failed(long position, string inputColumn, Exception cause)
    {
        var root = RowDescription.Unwrap(cause);
        var values = _row.Values();
        var hint = root switch
        {
            // ML.NET's image loader reports any file it cannot decode (empty, truncated, not an image) this way.
            ArgumentException { ParamName: "imageStream" } => $" (the image file {FileNamed(values)}could not be decoded: it is empty, truncated or not an image)",

            // After a real image, LoadImages hands an empty path's row the previous, disposed image instead of none
            // ("Object is disposed."): only that symptom, with an empty value in the row, earns the hint.
            InvalidOperationException when root.Message.Contains("disposed", StringComparison.OrdinalIgnoreCase) && values.Any(v => v.Value.Length == 0)
                => " (an empty text value: is the image path empty?)",
            _ => string.Empty,
        };
        return new InvalidOperationException(
            $"Row {position}{RowDescription.Describe(values)}: could not compute input column '{inputColumn}'{hint}: {root.GetType().Name}: {root.Message}", root);
    }

    /// <summary>What <see cref="Rejected"/> says of an image column without an image.</summary>
    public const string NoImage =
        "the row has no image, which is what LoadImages gives for an empty image path; drop rows with empty paths before LoadImages";

    public InvalidOperationException Rejected(long position, string inputColumn, string problem) =>
        new($"Row {position}{_row.Describe()}: input column '{inputColumn}' was not scored: {problem}.");

    /// <summary>A row whose scores are not numbers; described with its text columns (the input is on that row).</summary>
    public InvalidOperationException BadOutput(long position, string problem) =>
        new($"Row {position}{_row.Describe()}: {problem}.");

    /// <summary>
    /// A batch row whose scores are not numbers. The input cursor has moved past it, so only the position is
    /// certain; the batch's other rows are not served either.
    /// </summary>
    public static InvalidOperationException BadOutputInBatch(long position, string problem) =>
        new($"Row {position}: {problem}.");

    /// <summary>"'path' " for the text value that names an existing file, else nothing (the description lists them all).</summary>
    private static string FileNamed(List<(string Name, string Value)> values) =>
        values.FirstOrDefault(v => v.Value.Length > 0 && File.Exists(v.Value)) is { Value: { } file } && file.Length > 0 ? $"'{file}' " : string.Empty;
}
