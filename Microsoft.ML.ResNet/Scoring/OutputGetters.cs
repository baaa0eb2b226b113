using Microsoft.ML.Data;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>Getters over a scored <see cref="ScoringBatch"/>, shared by the batched cursor and the single-row mapper.</summary>
internal static class OutputGetters
{
    public const int Score = 0;
    public const int PredictedLabel = 1;
    public const int Features = 2;

    /// <param name="scorer">Gives the sizes.</param>
    /// <param name="batch">The buffers the values come from.</param>
    /// <param name="slot">Which row of the batch is current; called after <paramref name="ensureScored"/>.</param>
    /// <param name="ensureScored">Runs before every read (the single-row mapper scores lazily here).</param>
    /// <param name="output">One of <see cref="Score"/>, <see cref="PredictedLabel"/>, <see cref="Features"/>.</param>
    public static Delegate Make(ResNetScorer scorer, ScoringBatch batch, Func<int> slot, Action ensureScored, int output)
    {
        var k = scorer.Info.NumClasses;
        var f = scorer.Info.FeatureSize;
        return output switch
        {
            Score => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
            {
                ensureScored();
                Copy(batch.Probabilities.AsSpan(slot() * k, k), ref dst);
            }),
            PredictedLabel => (ValueGetter<uint>)((ref uint dst) =>
            {
                ensureScored();

                // Key values are 1-based; 0 is ML.NET's missing key.
                dst = (uint)scorer.ArgMax(batch.Probabilities, slot()) + 1;
            }),
            Features => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
            {
                ensureScored();
                Copy(batch.Features.AsSpan(slot() * f, f), ref dst);
            }),
            _ => throw new ArgumentOutOfRangeException(nameof(output), output, "Expected 0 (Score), 1 (PredictedLabel) or 2 (Features)."),
        };
    }

    private static void Copy(ReadOnlySpan<float> source, ref VBuffer<float> dst)
    {
        var editor = VBufferEditor.Create(ref dst, source.Length);
        source.CopyTo(editor.Values);
        dst = editor.Commit();
    }
}
