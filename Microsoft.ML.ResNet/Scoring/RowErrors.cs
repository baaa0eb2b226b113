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
        var description = Describe();

        // LoadImages fails obscurely on an empty path ("Object is disposed" after an earlier image): say what is likely.
        var hint = description.Contains(" = ''", StringComparison.Ordinal) ? " (an empty text value: is the image path empty?)" : string.Empty;
        return new InvalidOperationException(
            $"Row {position}{description}: could not compute input column '{inputColumn}'{hint}: {root.GetType().Name}: {root.Message}", root);
    }

    public InvalidOperationException Rejected(long position, string inputColumn, string problem) =>
        new($"Row {position}{Describe()}: input column '{inputColumn}' was not scored: {problem}.");

    private string Describe()
    {
        if (_textColumns.Length == 0)
        {
            return string.Empty;
        }

        var parts = new List<string>();
        foreach (var (name, getter) in _textColumns)
        {
            try
            {
                ReadOnlyMemory<char> value = default;
                getter(ref value);
                parts.Add($"{name} = '{value}'");
            }
            catch (Exception)
            {
                // The description is best effort; the real error is the one being reported.
            }
        }

        return parts.Count == 0 ? string.Empty : $" ({string.Join(", ", parts)})";
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
