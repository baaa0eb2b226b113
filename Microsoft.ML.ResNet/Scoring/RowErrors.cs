using Microsoft.ML.Data;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>
/// Builds the error for a row that cannot be scored, naming the row and the values of its text
/// columns (the image path among them), and unwrapping ML.NET's worker wrappers so the real cause
/// (file not found, invalid image) is the inner exception.
/// </summary>
internal sealed class RowErrors
{
    private readonly (string Name, ValueGetter<ReadOnlyMemory<char>> Getter)[] _textColumns;

    /// <summary>Uses the active scalar text columns of <paramref name="row"/>.</summary>
    public RowErrors(DataViewRow row)
    {
        _textColumns = row.Schema
            .Where(c => !c.IsHidden && c.Type is TextDataViewType && row.IsColumnActive(c))
            .Select(c => (c.Name, row.GetGetter<ReadOnlyMemory<char>>(c)))
            .ToArray();
    }

    /// <summary>The scalar text columns a row description can show; activate them on the input cursor.</summary>
    public static IEnumerable<DataViewSchema.Column> DescribingColumns(DataViewSchema schema) =>
        schema.Where(c => !c.IsHidden && c.Type is TextDataViewType);

    public InvalidOperationException Failed(long position, string inputColumn, Exception cause)
    {
        var root = Unwrap(cause);
        var values = Values();
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
            $"Row {position}{Describe(values)}: could not compute input column '{inputColumn}'{hint}: {root.GetType().Name}: {root.Message}", root);
    }

    /// <summary>What <see cref="Rejected"/> says of an image column without an image.</summary>
    public const string NoImage =
        "the row has no image, which is what LoadImages gives for an empty image path; drop rows with empty paths before LoadImages";

    public InvalidOperationException Rejected(long position, string inputColumn, string problem) =>
        new($"Row {position}{Describe()}: input column '{inputColumn}' was not scored: {problem}.");

    /// <summary>A row whose scores are not numbers; described with its text columns (the input is on that row).</summary>
    public InvalidOperationException BadOutput(long position, string problem) =>
        new($"Row {position}{Describe()}: {problem}.");

    /// <summary>
    /// A batch row whose scores are not numbers. The input cursor has moved past it, so only the position is
    /// certain; the batch's other rows are not served either.
    /// </summary>
    public static InvalidOperationException BadOutputInBatch(long position, string problem) =>
        new($"Row {position}: {problem}.");

    private string Describe() => Describe(Values());

    private static string Describe(List<(string Name, string Value)> values) =>
        values.Count == 0 ? string.Empty : $" ({string.Join(", ", values.Select(v => $"{v.Name} = '{v.Value}'"))})";

    /// <summary>"'path' " for the text value that names an existing file, else nothing (the description lists them all).</summary>
    private static string FileNamed(List<(string Name, string Value)> values) =>
        values.FirstOrDefault(v => v.Value.Length > 0 && File.Exists(v.Value)) is { Value: { } file } && file.Length > 0 ? $"'{file}' " : string.Empty;

    private List<(string Name, string Value)> Values()
    {
        var values = new List<(string Name, string Value)>();
        foreach (var (name, getter) in _textColumns)
        {
            try
            {
                ReadOnlyMemory<char> value = default;
                getter(ref value);
                values.Add((name, value.ToString()));
            }
            catch (Exception)
            {
                // The description is best effort; the real error is the one being reported.
            }
        }

        return values;
    }

    private static Exception Unwrap(Exception ex)
    {
        // ML.NET's parallel cursors wrap the loader's exception in InvalidOperationExceptions
        // ("Splitter/consolidator worker encountered exception..."); TargetInvocationException comes from reflection.
        while (ex.InnerException is not null
            && (ex is System.Reflection.TargetInvocationException or AggregateException
                || (ex is InvalidOperationException && ex.Message.Contains("worker", StringComparison.OrdinalIgnoreCase))))
        {
            ex = ex.InnerException;
        }

        return ex;
    }
}
