using Microsoft.ML.Data;

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
            throw new ArgumentOutOfRangeException(
                parameterName,
                $"Schema mismatch for input column '{features.Name}': expected Vector<Single, {expected}>, got {features.Type}. "
                + $"The trainer reads 3 x {options.ImageHeight} x {options.ImageWidth} pixels (ImageHeight x ImageWidth): ResizeImages to that size, then ExtractPixels (scaleImage: 1f / 255).");
        }

        var label = Find(schema, options.LabelColumnName, "label", parameterName);
        if (label.Type is not KeyDataViewType key)
        {
            throw new ArgumentOutOfRangeException(
                parameterName,
                $"Schema mismatch for label column '{label.Name}': expected a key type, got {label.Type}. Map the labels to keys first: mlContext.Transforms.Conversion.MapValueToKey(\"{label.Name}\").");
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

    private static DataViewSchema.Column Find(DataViewSchema schema, string name, string role, string parameterName) =>
        schema.GetColumnOrNull(name) ?? throw new ArgumentOutOfRangeException(
            parameterName,
            $"Could not find the {role} column '{name}'. The input has: {string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => c.Name))}.");

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
