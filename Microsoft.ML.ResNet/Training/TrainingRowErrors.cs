using System.Globalization;
using Microsoft.ML.Data;

namespace Microsoft.ML.ResNet.Training;

/// <summary>
/// Builds the error for a training row that cannot be used, worded like the scoring errors: the row index, the
/// values of its text columns (the image path among them), the column, and the real cause unwrapped from
/// ML.NET's cursor wrappers.
/// </summary>
internal sealed class TrainingRowErrors
{
    private readonly (string Name, ValueGetter<ReadOnlyMemory<char>> Getter)[] _textColumns;

    /// <summary>Uses the active scalar text columns of <paramref name="row"/>.</summary>
    public TrainingRowErrors(DataViewRow row)
    {
        _textColumns = row.Schema
            .Where(c => !c.IsHidden && c.Type is TextDataViewType && row.IsColumnActive(c))
            .Select(c => (c.Name, row.GetGetter<ReadOnlyMemory<char>>(c)))
            .ToArray();
    }

    /// <summary>The scalar text columns a row description can show; activate them on the cursor.</summary>
    public static IEnumerable<DataViewSchema.Column> DescribingColumns(DataViewSchema schema) =>
        schema.Where(c => !c.IsHidden && c.Type is TextDataViewType);

    /// <summary>Reading <paramref name="column"/> of the row threw <paramref name="cause"/> (an image gone, a bad file).</summary>
    public InvalidOperationException Failed(long position, string column, Exception cause)
    {
        var root = Unwrap(cause);

        // LoadImages fails obscurely on an empty path ("Object is disposed" after an earlier image): say what is likely.
        var hint = EmptyTextColumn() is { } empty ? $" (text column '{empty}' is empty, and LoadImages cannot read an empty image path)" : string.Empty;
        return new InvalidOperationException(
            $"Row {position}{Describe()}: could not read column '{column}' for training{hint}: {root.GetType().Name}: {root.Message}", root);
    }

    /// <summary>The cursor itself failed moving past row <paramref name="lastPosition"/>: no row values to show.</summary>
    public static InvalidOperationException FailedAfter(long lastPosition, Exception cause)
    {
        var root = Unwrap(cause);
        var where = lastPosition < 0 ? "the first row" : $"row {lastPosition}";
        return new InvalidOperationException($"Reading the training data failed after {where}: {root.GetType().Name}: {root.Message}", root);
    }

    /// <summary>The row was read but cannot be trained on.</summary>
    public InvalidOperationException Rejected(long position, string column, string problem) =>
        new($"Row {position}{Describe()}: column '{column}' cannot be trained on: {problem}.");

    /// <summary>The name of a describing text column whose value in the current row is empty, or null.</summary>
    public string? EmptyTextColumn()
    {
        foreach (var (name, getter) in _textColumns)
        {
            ReadOnlyMemory<char> value = default;
            try
            {
                getter(ref value);
            }
            catch (Exception)
            {
                // A text column that cannot be read says nothing about an empty path.
                continue;
            }

            if (value.Span.Trim().IsEmpty)
            {
                return name;
            }
        }

        return null;
    }

    /// <summary>The first value that is NaN or infinite, as (index, value), or null.</summary>
    public static (int Index, float Value)? NonFinite(ReadOnlySpan<float> pixels)
    {
        for (var i = 0; i < pixels.Length; i++)
        {
            if (!float.IsFinite(pixels[i]))
            {
                return (i, pixels[i]);
            }
        }

        return null;
    }

    /// <summary>A non-finite pixel value as text ("NaN", "+Infinity", "-Infinity").</summary>
    public static string Show(float value) => value switch
    {
        float.PositiveInfinity => "+Infinity",
        float.NegativeInfinity => "-Infinity",
        _ => value.ToString(CultureInfo.InvariantCulture),
    };

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
