using Microsoft.ML.ResNet.Scoring;
using static Microsoft.ML.ResNet.Tests.Scoring.ScoringFixtures;
using static Microsoft.ML.ResNet.Tests.Support.FixtureModels;
using static Microsoft.ML.ResNet.Tests.Support.ImagePipeline;

namespace Microsoft.ML.ResNet.Tests.Scoring;

/// <summary>The session's reference counting: the native session lives while anyone holds a reference.</summary>
[TestClass]
public sealed class OnnxScoringSessionTests
{
    [TestMethod]
    public void Dispose_WhileABatchHoldsAReference_TheBatchStillRunsAndTheLastReleaseFreesIt()
    {
        var session = Open();
        var batch = new ScoringBatch(session, 1, withFeatures: false);
        Array.Fill(batch.Pixels, 0.5f);

        session.Dispose();
        batch.Run(1);

        Assert.IsTrue(session.IsAlive, "the batch's reference keeps the session");
        Assert.AreEqual(1.0, batch.Probabilities.Sum(), 1e-4);
        batch.Dispose();
        Assert.IsFalse(session.IsAlive, "the last reference frees the native session");
    }

    [TestMethod]
    public void Dispose_Twice_GivesUpTheCreatorsReferenceOnce()
    {
        var session = Open();
        using var batch = new ScoringBatch(session, 1, withFeatures: false);

        session.Dispose();
        session.Dispose();

        Assert.IsTrue(session.IsAlive, "a second Dispose must not take the batch's reference");
        batch.Run(1);
    }

    [TestMethod]
    public void AddReference_AfterTheLastReferenceIsGone_ThrowsObjectDisposed()
    {
        var session = Open();
        session.Dispose();

        Assert.ThrowsExactly<ObjectDisposedException>(() => new ScoringBatch(session, 1, withFeatures: false));
        Assert.ThrowsExactly<ObjectDisposedException>(session.AddReference);
    }

    [TestMethod]
    public void Run_OnADisposedBatch_ThrowsObjectDisposed()
    {
        using var session = Open();
        var batch = new ScoringBatch(session, 1, withFeatures: false);
        batch.Dispose();

        Assert.ThrowsExactly<ObjectDisposedException>(() => batch.Run(1));
        Assert.IsTrue(session.IsAlive, "the creator's reference is still held");
    }

    private static OnnxScoringSession Open() =>
        new(File.ReadAllBytes(SmallModel()), new ScoringSessionOptions(null, false, 1), _ => { });
}
