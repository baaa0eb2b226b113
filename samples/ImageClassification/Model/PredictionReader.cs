using ImageClassification.Reporting;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace ImageClassification.Model;

/// <summary>
/// Reads predictions back out of a scored <see cref="IDataView"/>, whatever form the model gives them in:
/// <c>PredictedLabel</c> as text or as a key, class names from the score column's slot names or the key's values.
/// </summary>
internal static class PredictionReader
{
    /// <summary>Scores <paramref name="images"/> with <paramref name="model"/> and returns the top <paramref name="topK"/> labels of each.</summary>
    public static IReadOnlyList<Prediction> Predict(MLContext ml, ITransformer model, IReadOnlyList<Data.ImageInput> images, int topK, bool withActual = false)
    {
        var scored = model.Transform(ml.Data.LoadFromEnumerable(images));
        var labels = ClassNames(scored.Schema);
        // GetColumn reuses one buffer across rows: copy each row out before moving on.
        var scores = scored.GetColumn<VBuffer<float>>(ImagePipeline.ScoreColumn).Select(v => v.DenseValues().ToArray()).ToList();
        var predictions = new List<Prediction>(images.Count);
        for (var row = 0; row < images.Count; row++)
        {
            var top = scores[row]
                .Select((score, index) => new LabelScore(index < labels.Count ? labels[index] : index.ToString(System.Globalization.CultureInfo.InvariantCulture), score))
                .OrderByDescending(s => s.Score)
                .Take(Math.Max(1, topK))
                .ToList();
            predictions.Add(new Prediction(images[row].ImagePath, top[0].Label, top[0].Score, top, withActual ? images[row].Label : null));
        }

        return predictions;
    }

    /// <summary>Class names in score order.</summary>
    /// <exception cref="InvalidOperationException">The model has no Score column.</exception>
    public static IReadOnlyList<string> ClassNames(DataViewSchema schema)
    {
        var score = schema.GetColumnOrNull(ImagePipeline.ScoreColumn)
            ?? throw new InvalidOperationException(
                $"The model's output has no '{ImagePipeline.ScoreColumn}' column. Columns: {string.Join(", ", schema.Select(c => c.Name))}.");
        if (score.HasSlotNames())
        {
            var names = default(VBuffer<ReadOnlyMemory<char>>);
            score.GetSlotNames(ref names);
            return names.DenseValues().Select(n => n.ToString()).ToList();
        }

        foreach (var name in new[] { ImagePipeline.PredictedLabelColumn, ImagePipeline.LabelColumn })
        {
            if (schema.GetColumnOrNull(name) is { } column && column.HasKeyValues())
            {
                var keys = default(VBuffer<ReadOnlyMemory<char>>);
                column.GetKeyValues(ref keys);
                return keys.DenseValues().Select(n => n.ToString()).ToList();
            }
        }

        return [];
    }
}
