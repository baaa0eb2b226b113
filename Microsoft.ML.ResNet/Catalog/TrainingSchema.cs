using Microsoft.ML.Data;
using Microsoft.ML.ResNet.Scoring;

namespace Microsoft.ML.ResNet.Catalog;

/// <summary>Checks a training IDataView's pixel and label columns and reads the class labels from the key type.</summary>
internal static class TrainingSchema
{
    /// <summary>The labels, in key order, after checking both columns.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing, the label is not a key with 2 or more classes,
    /// or the pixel column is not Vector&lt;Single, 3*H*W&gt;. ParamName is <paramref name="parameterName"/>.</exception>
    public static IReadOnlyList<string> Check(DataViewSchema schema, ResNetTrainerOptions options, string parameterName)
    {
        var features = Find(schema, options.FeatureColumnName, "pixel", parameterName);
        var expected = 3 * options.ImageHeight * options.ImageWidth;
        if (features.Type is not VectorDataViewType { ItemType: var item } vector || item != NumberDataViewType.Single
            || (vector.Size != 0 && vector.Size != expected))
        {
            throw SchemaErrors.Pixels(parameterName, features.Name, options.ImageHeight, options.ImageWidth, features.Type, "The trainer");
        }

        var label = Find(schema, options.LabelColumnName, "label", parameterName);
        if (label.Type is not KeyDataViewType key)
        {
            throw NotAKey(parameterName, label.Name, label.Type);
        }

        if (key.Count < 2 || key.Count > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(
                parameterName,
                $"Label column '{label.Name}' has {key.Count} class(es); a classifier needs at least 2 (and at most {int.MaxValue}).");
        }

        return Labels(label, (int)key.Count);
    }

    /// <summary>Checks that validation data has the training data's columns and the same label keys.</summary>
    public static void CheckValidation(DataViewSchema schema, ResNetTrainerOptions options, IReadOnlyList<string> trainingLabels)
    {
        var labels = Check(schema, options, nameof(options.ValidationData));
        if (!labels.SequenceEqual(trainingLabels))
        {
            throw new ArgumentException(
                $"The validation label keys [{string.Join(", ", labels)}] differ from the training ones [{string.Join(", ", trainingLabels)}]. "
                + "Map both with the same fitted MapValueToKey transformer.",
                nameof(options.ValidationData));
        }
    }

    /// <summary>The trainer's checks on a schema shape (<c>GetOutputSchema</c>): the same rules, without vector sizes.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing, the pixels are not a vector of Single, or the label
    /// is not a key type. ParamName is "inputSchema".</exception>
    public static void Check(SchemaShape schema, ResNetTrainerOptions options)
    {
        const string parameterName = "inputSchema";
        var features = Find(schema, options.FeatureColumnName, "pixel", parameterName);
        if (features.Kind == SchemaShape.Column.VectorKind.Scalar || features.ItemType != NumberDataViewType.Single)
        {
            var actual = features.Kind == SchemaShape.Column.VectorKind.Scalar ? $"{features.ItemType}" : $"{features.ItemType} vector";
            throw SchemaErrors.Pixels(parameterName, features.Name, options.ImageHeight, options.ImageWidth, actual, "The trainer");
        }

        var label = Find(schema, options.LabelColumnName, "label", parameterName);
        if (!label.IsKey)
        {
            throw NotAKey(parameterName, label.Name, label.ItemType);
        }
    }

    private static ArgumentOutOfRangeException NotAKey(string parameterName, string column, DataViewType actual) =>
        SchemaErrors.Mismatch(
            parameterName, "label", column, "a key type", actual, $"Map the labels to keys first: mlContext.Transforms.Conversion.MapValueToKey(\"{column}\").");

    private static DataViewSchema.Column Find(DataViewSchema schema, string name, string role, string parameterName) =>
        schema.GetColumnOrNull(name) ?? throw SchemaErrors.Missing(parameterName, $"the {role}", name, schema.Where(c => !c.IsHidden).Select(c => c.Name));

    private static SchemaShape.Column Find(SchemaShape schema, string name, string role, string parameterName) =>
        schema.FirstOrDefault(c => c.Name == name) is { Name: not null } column
            ? column
            : throw SchemaErrors.Missing(parameterName, $"the {role}", name, schema.Select(c => c.Name));

    /// <summary>The key values as text when the key type has text key values, else the key indices 0..K-1.</summary>
    private static IReadOnlyList<string> Labels(DataViewSchema.Column label, int count)
    {
        var keyValues = label.Annotations.Schema.GetColumnOrNull("KeyValues");
        if (keyValues?.Type is VectorDataViewType { ItemType: TextDataViewType })
        {
            var values = default(VBuffer<ReadOnlyMemory<char>>);
            label.GetKeyValues(ref values);
            var text = values.DenseValues().Select(v => v.ToString()).ToArray();
            if (text.Length == count)
            {
                return text;
            }
        }

        return Enumerable.Range(0, count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }
}
