using System.Numerics;
using Microsoft.ML.Data;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>
/// Turns a class index written as B bits (floats 0 and 1, lowest bit first) into ML.NET's key-typed
/// PredictedLabel with a built-in that loads anywhere: ML.NET's multiclass Naive Bayes, fitted on the K
/// codes with the labels as a key column.
/// </summary>
/// <remarks>
/// Fitting is counting (K rows of B values, a K x B table of counts), where the k-means over K one-hot vectors
/// that this replaces spent seconds seeding for 1000 classes. ML.NET's Naive Bayes is a Bernoulli model
/// with add-one smoothing: with one row per class, class c scores log(1/K) + sum over bits of
/// log((1 + [bit matches c's code]) / (1 + K)), i.e. a constant plus log 2 times the number of bits that
/// match c's code. The class whose code is the input scores highest by at least log 2, so the scorer's
/// argmax is exact; its PredictedLabel takes the key type and key values of the training label column.
/// </remarks>
internal static class LabelBitsDecoder
{
    /// <summary>The decoder's own score column (per-class log-likelihoods, not probabilities); ML.NET fixes the name.</summary>
    public const string ScoreColumn = "Score";

    /// <summary>The decoded key column; ML.NET fixes the name.</summary>
    public const string PredictedLabelColumn = "PredictedLabel";

    private const string LabelColumn = "Label";

    // AnnotationUtils.Kinds.KeyValues, which ML.NET keeps internal.
    private const string KeyValuesKind = "KeyValues";

    /// <summary>Bits needed to write the class indices 0..K-1; at least one.</summary>
    public static int BitCount(int classes) => Math.Max(1, 32 - BitOperations.LeadingZeroCount((uint)(classes - 1)));

    /// <summary>The bits of <paramref name="classIndex"/>, lowest first, as the ONNX graph writes them.</summary>
    public static float[] Code(int classIndex, int bits) =>
        Enumerable.Range(0, bits).Select(b => (float)((classIndex >> b) & 1)).ToArray();

    /// <summary>
    /// A transformer reading <paramref name="bitsColumn"/> (Vector&lt;Single, B&gt;) and writing
    /// <see cref="ScoreColumn"/> and <see cref="PredictedLabelColumn"/>, a Key&lt;UInt32, K&gt; whose key values
    /// are <paramref name="labels"/> in order (duplicates included: one key per class).
    /// </summary>
    public static ITransformer Fit(MLContext mlContext, string bitsColumn, IReadOnlyList<string> labels)
    {
        var classes = labels.Count;
        var bits = BitCount(classes);
        // LoadFromEnumerable takes key values 0-based (it stores c + 1, 0 being "missing").
        var rows = Enumerable.Range(0, classes).Select(c => new CodeRow { Bits = Code(c, bits), Label = (uint)c });
        var definition = SchemaDefinition.Create(typeof(CodeRow));
        var bitsDefinition = definition[nameof(CodeRow.Bits)];
        bitsDefinition.ColumnName = bitsColumn;
        bitsDefinition.ColumnType = new VectorDataViewType(NumberDataViewType.Single, bits);
        var labelDefinition = definition[nameof(CodeRow.Label)];
        labelDefinition.ColumnName = LabelColumn;
        labelDefinition.ColumnType = new KeyDataViewType(typeof(uint), classes);
        var names = new VBuffer<ReadOnlyMemory<char>>(classes, labels.Select(l => l.AsMemory()).ToArray());
        labelDefinition.AddAnnotation(KeyValuesKind, names, new VectorDataViewType(TextDataViewType.Instance, classes));

        var codes = mlContext.Data.LoadFromEnumerable(rows, definition);
        return mlContext.MulticlassClassification.Trainers.NaiveBayes(LabelColumn, bitsColumn).Fit(codes);
    }

    private sealed class CodeRow
    {
        public float[] Bits { get; set; } = [];

        public uint Label { get; set; }
    }
}
