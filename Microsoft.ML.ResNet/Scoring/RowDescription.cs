using Microsoft.ML.Data;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>
/// What the scoring and the training row errors share: the values of a row's text columns (the image path among
/// them) to name the row by, and the real cause unwrapped from ML.NET's cursor wrappers.
/// </summary>
/// <remarks>
/// It reads ML.NET rows, so it cannot live in Modeling (which knows nothing of ML.NET); it lives with the scoring
/// errors, and the training feeder's errors borrow it so that both name rows the same way.
/// </remarks>
internal sealed class RowDescription
{
    private readonly (string Name, ValueGetter<ReadOnlyMemory<char>> Getter)[] _textColumns;

    /// <summary>Uses the active scalar text columns of <paramref name="row"/>.</summary>
    public RowDescription(DataViewRow row)
    {
        _textColumns = row.Schema
            .Where(c => !c.IsHidden && c.Type is TextDataViewType && row.IsColumnActive(c))
            .Select(c => (c.Name, row.GetGetter<ReadOnlyMemory<char>>(c)))
            .ToArray();
    }

    /// <summary>The scalar text columns a row description can show; activate them on the cursor.</summary>
    public static IEnumerable<DataViewSchema.Column> DescribingColumns(DataViewSchema schema) =>
        schema.Where(c => !c.IsHidden && c.Type is TextDataViewType);

    /// <summary>" (name = 'value', ...)" for the current row, or nothing when no text column can be read.</summary>
    public string Describe() => Describe(Values());

    /// <summary>" (name = 'value', ...)" for <paramref name="values"/>, or nothing when there are none.</summary>
    public static string Describe(List<(string Name, string Value)> values) =>
        values.Count == 0 ? string.Empty : $" ({string.Join(", ", values.Select(v => $"{v.Name} = '{v.Value}'"))})";

    /// <summary>The text values of the current row, leaving out any column whose getter throws.</summary>
    public List<(string Name, string Value)> Values()
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

    /// <summary>The exception under ML.NET's cursor and reflection wrappers: the one that says what went wrong.</summary>
    public static Exception Unwrap(Exception ex)
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
