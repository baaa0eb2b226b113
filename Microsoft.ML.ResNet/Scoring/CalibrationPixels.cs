using Microsoft.ML.Data;
using Microsoft.ML.ResNet.Modeling;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>The first rows of a pixel column, checked, as one flat array: what INT8 calibration feeds the FP32 network.</summary>
internal sealed class CalibrationPixels
{
    private CalibrationPixels(float[] values, int rows, int height, int width)
    {
        Values = values;
        Rows = rows;
        Height = height;
        Width = width;
    }

    /// <summary>Rows x PixelCount floats, row after row.</summary>
    public float[] Values { get; }

    public int Rows { get; }

    public int Height { get; }

    public int Width { get; }

    public int PixelCount => 3 * Height * Width;

    /// <summary>Reads up to <paramref name="maxRows"/> rows of <paramref name="column"/>.</summary>
    /// <param name="data">The calibration data.</param>
    /// <param name="column">The pixel column the classifier reads.</param>
    /// <param name="height">The network's input height.</param>
    /// <param name="width">The network's input width.</param>
    /// <param name="maxRows">Rows wanted.</param>
    /// <param name="minRows">Fewer rows than this are an error.</param>
    /// <param name="parameterName">The caller's name for <paramref name="data"/>, for the exceptions.</param>
    /// <exception cref="ArgumentOutOfRangeException">The column is missing (the message lists the columns) or not Vector&lt;Single, 3*H*W&gt;.</exception>
    /// <exception cref="ArgumentException">Fewer than <paramref name="minRows"/> rows, or a row with NaN or infinite pixels (named).</exception>
    public static CalibrationPixels Read(IDataView data, string column, int height, int width, int maxRows, int minRows, string parameterName)
    {
        var pixelCount = 3 * height * width;
        var schemaColumn = data.Schema.GetColumnOrNull(column)
            ?? throw SchemaErrors.Missing(parameterName, "the calibration data's pixel", column, data.Schema.Where(c => !c.IsHidden).Select(c => c.Name));
        if (schemaColumn.Type is not VectorDataViewType { ItemType: NumberDataViewType item } vector || item != NumberDataViewType.Single || vector.Size != pixelCount)
        {
            throw SchemaErrors.Pixels(parameterName, column, height, width, schemaColumn.Type, "The model");
        }

        var values = new List<float>(Math.Min(maxRows, 1024) * pixelCount);
        var rows = 0;
        using (var cursor = data.GetRowCursor([schemaColumn]))
        {
            var getter = cursor.GetGetter<VBuffer<float>>(schemaColumn);
            var buffer = default(VBuffer<float>);
            var dense = new float[pixelCount];
            while (rows < maxRows && cursor.MoveNext())
            {
                getter(ref buffer);
                buffer.CopyTo(dense);
                var bad = NonFinite.IndexOf(dense);
                if (bad >= 0)
                {
                    throw new ArgumentException(
                        $"Calibration row {rows} of column '{column}': pixel {bad} is {NonFinite.Text(dense[bad])}; calibration needs real images.", parameterName);
                }

                values.AddRange(dense);
                rows++;
            }
        }

        if (rows < minRows)
        {
            throw new ArgumentException(
                $"The calibration data has {rows} rows; INT8 calibration needs at least {minRows} images like those the model will score (200 by default).", parameterName);
        }

        return new CalibrationPixels([.. values], rows, height, width);
    }
}
