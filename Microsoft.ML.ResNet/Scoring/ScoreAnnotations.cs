using Microsoft.ML.Data;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>
/// ML.NET's standard annotations of a multiclass score set, as its multiclass trainers put them on Score and PredictedLabel:
/// ScoreColumnKind "MulticlassClassification", ScoreValueKind "Score" / "PredictedLabel", and a ScoreColumnSetId one above
/// the largest already in the schema, so Evaluate and ML.NET's tools recognize our columns as a multiclass prediction.
/// ML.NET keeps the names (AnnotationUtils.Kinds and Const) internal: they are spelled here, once.
/// </summary>
internal static class ScoreAnnotations
{
    public const string SlotNames = "SlotNames";
    public const string KeyValues = "KeyValues";
    public const string ScoreColumnSetId = "ScoreColumnSetId";
    public const string ScoreColumnKind = "ScoreColumnKind";
    public const string ScoreValueKind = "ScoreValueKind";
    public const string MulticlassClassification = "MulticlassClassification";
    public const string ScoreValue = "Score";
    public const string PredictedLabelValue = "PredictedLabel";

    /// <summary>The type ML.NET gives ScoreColumnSetId: a key of UInt32 with int.MaxValue values.</summary>
    public static KeyDataViewType SetIdType { get; } = new(typeof(uint), int.MaxValue);

    /// <summary>The set id for columns added to <paramref name="input"/>: one above the largest it already has.</summary>
    public static uint NextSetId(DataViewSchema input)
    {
        uint max = 0;
        foreach (var column in input)
        {
            if (column.Annotations.Schema.GetColumnOrNull(ScoreColumnSetId) is { Type: KeyDataViewType key } && key.RawType == typeof(uint))
            {
                uint value = 0;
                column.Annotations.GetValue(ScoreColumnSetId, ref value);
                max = Math.Max(max, value);
            }
        }

        return max + 1;
    }

    /// <summary>Score's annotations: the labels as slot names, then the score set.</summary>
    public static DataViewSchema.Annotations ForScore(ValueGetter<VBuffer<ReadOnlyMemory<char>>> labels, int classes, uint setId)
    {
        var builder = new DataViewSchema.Annotations.Builder();
        builder.Add(SlotNames, new VectorDataViewType(TextDataViewType.Instance, classes), labels);
        AddSet(builder, setId, ScoreValue);
        return builder.ToAnnotations();
    }

    /// <summary>PredictedLabel's annotations: the labels as key values, then the score set.</summary>
    public static DataViewSchema.Annotations ForPredictedLabel(ValueGetter<VBuffer<ReadOnlyMemory<char>>> labels, int classes, uint setId)
    {
        var builder = new DataViewSchema.Annotations.Builder();
        builder.Add(KeyValues, new VectorDataViewType(TextDataViewType.Instance, classes), labels);
        AddSet(builder, setId, PredictedLabelValue);
        return builder.ToAnnotations();
    }

    /// <summary>The same annotations on a schema definition (for <see cref="OutputShape"/>).</summary>
    public static void AddTo(SchemaDefinition.Column column, VBuffer<ReadOnlyMemory<char>> labels, VectorDataViewType namesType, bool isScore)
    {
        column.AddAnnotation(isScore ? SlotNames : KeyValues, labels, namesType);
        column.AddAnnotation(ScoreColumnSetId, 1u, SetIdType);
        column.AddAnnotation(ScoreColumnKind, MulticlassClassification.AsMemory(), TextDataViewType.Instance);
        column.AddAnnotation(ScoreValueKind, (isScore ? ScoreValue : PredictedLabelValue).AsMemory(), TextDataViewType.Instance);
    }

    private static void AddSet(DataViewSchema.Annotations.Builder builder, uint setId, string valueKind)
    {
        builder.Add(ScoreColumnSetId, SetIdType, (ref uint value) => value = setId);
        builder.Add(ScoreColumnKind, TextDataViewType.Instance, (ref ReadOnlyMemory<char> value) => value = MulticlassClassification.AsMemory());
        builder.Add(ScoreValueKind, TextDataViewType.Instance, (ref ReadOnlyMemory<char> value) => value = valueKind.AsMemory());
    }
}
