using Microsoft.ML.ResNet.Training;

namespace Microsoft.ML.ResNet.Tests.Training;

[TestClass]
public sealed class BatchFeederTests
{
    private static TrainingSettings Settings(bool cache = false, int pool = 8, double holdout = 0) => new()
    {
        ImageHeight = 32,
        ImageWidth = 32,
        BatchSize = 5,
        CacheInMemory = cache,
        ShufflePoolRows = pool,
        ValidationFraction = holdout,
        Crop = ResNetCropAugmentation.None,
        HorizontalFlip = false,
        Mean = [0, 0, 0],
        Std = [1, 1, 1],
        Seed = 3,
    };

    /// <summary>Each row's identity: its label and its first pixel (the synthetic rows differ in noise).</summary>
    private static List<(long Label, float First)> Rows(BatchFeeder feeder, int epoch, bool train) =>
        feeder.ReadEpoch(epoch, train, CancellationToken.None)
            .SelectMany(b => Enumerable.Range(0, b.Count).Select(i => (b.Labels[i], b.Pixels[i * 3 * 32 * 32])).ToList())
            .ToList();

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void ReadEpoch_Training_ShufflesEveryRowOnceAndDiffersByEpoch(bool cache)
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 23, classes: 3, size: 32);
        var feeder = new BatchFeeder(data, TrainingData.Features, TrainingData.Label, Settings(cache), DataSplit.All);

        var inOrder = Rows(feeder, 0, train: false);
        var epoch0 = Rows(feeder, 0, train: true);
        var epoch1 = Rows(feeder, 1, train: true);

        Assert.AreEqual(23, inOrder.Count);
        CollectionAssert.AreEquivalent(inOrder, epoch0, "A training epoch delivers every row once (23 % 5 = 3 rows in the last batch).");
        CollectionAssert.AreEquivalent(inOrder, epoch1);
        CollectionAssert.AreNotEqual(inOrder, epoch0, "Training order is shuffled.");
        CollectionAssert.AreNotEqual(epoch0, epoch1, "Each epoch has its own order.");
        CollectionAssert.AreEqual(epoch0, Rows(feeder, 0, train: true), "The same epoch gives the same order again.");
        Assert.AreEqual(23, feeder.CountRows(CancellationToken.None));
    }

    [TestMethod]
    public void ReadEpoch_TrailingBatchOfOne_IsDroppedOnlyInTraining()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 11, classes: 2, size: 32);
        var feeder = new BatchFeeder(data, TrainingData.Features, TrainingData.Label, Settings(), DataSplit.All);

        Assert.AreEqual(10, Rows(feeder, 0, train: true).Count);
        Assert.AreEqual(11, Rows(feeder, 0, train: false).Count);
    }

    [TestMethod]
    public void ReadEpoch_HoldoutSplit_IsDisjointAndComplete()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 60, classes: 3, size: 32);
        var settings = Settings(holdout: 0.25);
        var training = Rows(new BatchFeeder(data, TrainingData.Features, TrainingData.Label, settings, DataSplit.Training), 0, train: false);
        var holdout = Rows(new BatchFeeder(data, TrainingData.Features, TrainingData.Label, settings, DataSplit.Holdout), 0, train: false);
        var all = Rows(new BatchFeeder(data, TrainingData.Features, TrainingData.Label, settings, DataSplit.All), 0, train: false);

        Assert.AreEqual(0, training.Intersect(holdout).Count());
        CollectionAssert.AreEquivalent(all, training.Concat(holdout).ToList());
        Assert.IsTrue(holdout.Count is > 5 and < 25, $"About a quarter held out, got {holdout.Count} of 60.");
    }

    [TestMethod]
    public void ReadEpoch_ConsumerStopsEarly_ProducerStopsToo()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 40, classes: 2, size: 32);
        var feeder = new BatchFeeder(data, TrainingData.Features, TrainingData.Label, Settings(), DataSplit.All);

        var first = feeder.ReadEpoch(0, train: true, CancellationToken.None).First();

        Assert.AreEqual(5, first.Count);
        Assert.AreEqual(40, Rows(feeder, 1, train: true).Count, "The feeder still works after an abandoned epoch.");
    }

    [TestMethod]
    public void ReadEpoch_Cancelled_ThrowsOperationCanceled()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 40, classes: 2, size: 32);
        var feeder = new BatchFeeder(data, TrainingData.Features, TrainingData.Label, Settings(), DataSplit.All);
        using var cancel = new CancellationTokenSource();

        Assert.ThrowsExactly<OperationCanceledException>(() =>
        {
            foreach (var _ in feeder.ReadEpoch(0, train: true, cancel.Token))
            {
                cancel.Cancel();
            }
        });
    }
}
