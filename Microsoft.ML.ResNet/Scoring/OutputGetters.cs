using Microsoft.ML.Data;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>Getters over a scored <see cref="ScoringBatch"/>, shared by the batched cursor and the single-row mapper.</summary>
internal static class OutputGetters
{
    /// <param name="scorer">Gives the sizes.</param>
    /// <param name="batch">The buffers the values come from.</param>
    /// <param name="slot">Which row of the batch is current; called after <paramref name="ensureScored"/>.</param>
    /// <param name="ensureScored">Runs before every read (the single-row mapper scores lazily here).</param>
    /// <param name="outputIndex">The column's position among the output columns (<see cref="ScoringColumns.Outputs"/>).</param>
    public static Delegate Make(ResNetScorer scorer, ScoringBatch batch, Func<int> slot, Action ensureScored, int outputIndex)
    {
        var k = scorer.Info.NumClasses;
        var f = scorer.Info.FeatureSize;
        var cells = scorer.Info.HeatMapSize;
        return scorer.Columns.Outputs[outputIndex] switch
        {
            ScoringOutput.Score => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
            {
                ensureScored();
                Copy(batch.Probabilities.AsSpan(slot() * k, k), ref dst);
            }),
            ScoringOutput.PredictedLabel => (ValueGetter<uint>)((ref uint dst) =>
            {
                ensureScored();

                // Key values are 1-based; 0 is ML.NET's missing key.
                dst = (uint)scorer.ArgMax(batch.Probabilities, slot()) + 1;
            }),
            ScoringOutput.Features => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
            {
                ensureScored();
                Copy(batch.Features.AsSpan(slot() * f, f), ref dst);
            }),
            ScoringOutput.HeatMap => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
            {
                ensureScored();
                var row = slot();
                var label = scorer.HeatMapClassIndex ?? scorer.ArgMax(batch.Probabilities, row);
                Copy(batch.HeatMaps.AsSpan(((row * k) + label) * cells, cells), ref dst);
            }),
            var other => throw new ArgumentOutOfRangeException(nameof(outputIndex), other, "Not an output column."),
        };
    }

    private static void Copy(ReadOnlySpan<float> source, ref VBuffer<float> dst)
    {
        var editor = VBufferEditor.Create(ref dst, source.Length);
        source.CopyTo(editor.Values);
        dst = editor.Commit();
    }
}
