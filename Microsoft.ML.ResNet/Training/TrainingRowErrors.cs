using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Scoring;

namespace Microsoft.ML.ResNet.Training;

/// <summary>
/// Builds the error for a training row that cannot be used, worded like the scoring errors: the row index, the
/// values of its text columns (the image path among them), the column, and the real cause unwrapped from
/// ML.NET's cursor wrappers.
/// </summary>
internal sealed class TrainingRowErrors
{
    private readonly RowDescription _row;

    /// <summary>Uses the active scalar text columns of <paramref name="row"/>.</summary>
    public TrainingRowErrors(DataViewRow row)
    {
        _row = new RowDescription(row);
    }

    /// <summary>The scalar text columns a row description can show; activate them on the cursor.</summary>
    public static IEnumerable<DataViewSchema.Column> DescribingColumns(DataViewSchema schema) =>
        RowDescription.DescribingColumns(schema);

    /// <summary>Reading <paramref name="column"/> of the row threw <paramref name="cause"/> (an image gone, a bad file).</summary>
    public InvalidOperationException Failed(long position, string column, Exception cause)
    {
        var root = RowDescription.Unwrap(cause);

        // LoadImages fails obscurely on an empty path ("Object is disposed" after an earlier image): say what is likely.
        var hint = EmptyTextColumn() is { } empty ? $" (text column '{empty}' is empty, and LoadImages cannot read an empty image path)" : string.Empty;
        return new InvalidOperationException(
            $"Row {position}{_row.Describe()}: could not read column '{column}' for training{hint}: {root.GetType().Name}: {root.Message}", root);
    }

    /// <summary>The cursor itself failed moving past row <paramref name="lastPosition"/>: no row values to show.</summary>
    public static InvalidOperationException FailedAfter(long lastPosition, Exception cause)
    {
        var root = RowDescription.Unwrap(cause);
        var where = lastPosition < 0 ? "the first row" : $"row {lastPosition}";
        return new InvalidOperationException($"Reading the training data failed after {where}: {root.GetType().Name}: {root.Message}", root);
    }

    /// <summary>The row was read but cannot be trained on.</summary>
    public InvalidOperationException Rejected(long position, string column, string problem) =>
        new($"Row {position}{_row.Describe()}: column '{column}' cannot be trained on: {problem}.");

    /// <summary>The name of a describing text column whose value in the current row is empty, or null.</summary>
    public string? EmptyTextColumn() =>
        _row.Values().FirstOrDefault(v => v.Value.AsSpan().Trim().IsEmpty) is { Name: { } name } ? name : null;
}
