using Microsoft.ML.Data;
using Microsoft.ML.ResNet.Training;

namespace Microsoft.ML.ResNet.Tests.Training;

[TestClass]
public sealed class BatchFeederTests
{
    // The public API's recipe; each test overrides what it is about.
    private static readonly TrainingSettings Recipe = TrainerOptionsResolver.Resolve(new ResNetTrainerOptions(), seed: 0);

    private static TrainingSettings Settings(bool cache = false, int pool = 8, double holdout = 0) => Recipe with
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

        // Abandoning the epoch waits for the producer: one that did not stop would hang here, so the wait has a limit.
        var run = Task.Run(() =>
        {
            var first = feeder.ReadEpoch(0, train: true, CancellationToken.None).First();
            return (first.Count, Rows(feeder, 1, train: true).Count);
        });

        Assert.IsTrue(run.Wait(TimeSpan.FromSeconds(60)), "Abandoning an epoch did not return within 60 s: the producer did not stop.");
        Assert.AreEqual(5, run.Result.Item1);
        Assert.AreEqual(40, run.Result.Item2, "The feeder still works after an abandoned epoch.");
    }

    [TestMethod]
    public void ReadEpoch_ImageFileGoneMidRun_ThrowsNamingRowFileAndColumn()
    {
        var folder = ImageFolder(perClass: 4, black: false);
        try
        {
            var ml = new MLContext(seed: 1);
            var data = TrainingData.LoadImages(ml, folder, 32);
            var feeder = new BatchFeeder(data, TrainingData.Features, TrainingData.Label, Settings(), DataSplit.All);
            Assert.AreEqual(8, Rows(feeder, 0, train: false).Count);
            var gone = ImagePaths(folder)[5];
            File.Delete(gone);

            var error = Assert.ThrowsExactly<InvalidOperationException>(() => Rows(feeder, 1, train: true));

            StringAssert.Contains(error.Message, "Row 5 ");
            StringAssert.Contains(error.Message, $"ImagePath = '{gone}'");
            StringAssert.Contains(error.Message, "column 'Features'");
            Assert.IsNotNull(error.InnerException);
            Assert.IsNotInstanceOfType<AggregateException>(error.InnerException);
            StringAssert.Contains(error.Message, error.InnerException.Message, "The cause's own message is part of the error.");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void ReadEpoch_WrongPixelCount_ThrowsNamingRowAndColumn()
    {
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 6).Select(i => new VariableRow { Features = new float[i == 3 ? 10 : 3 * 32 * 32], Label = $"c{i % 2}", Name = $"r{i}" }).ToList();
        var raw = ml.Data.LoadFromEnumerable(rows);
        var data = ml.Transforms.Conversion.MapValueToKey(TrainingData.Label).Fit(raw).Transform(raw);
        var feeder = new BatchFeeder(data, TrainingData.Features, TrainingData.Label, Settings(), DataSplit.All);

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => Rows(feeder, 0, train: true));

        StringAssert.Contains(error.Message, "Row 3 (Name = 'r3')");
        StringAssert.Contains(error.Message, "column 'Features'");
        StringAssert.Contains(error.Message, "has 10 values; expected 3 x 32 x 32 = 3072");
    }

    [TestMethod]
    [DataRow(float.NaN, "NaN")]
    [DataRow(float.PositiveInfinity, "+Infinity")]
    [DataRow(float.NegativeInfinity, "-Infinity")]
    public void ReadEpoch_NonFinitePixel_ThrowsNamingRowColumnIndexAndValue(float value, string shown)
    {
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 6).Select(i => new VariableRow { Features = Enumerable.Repeat(0.5f, 3 * 32 * 32).ToArray(), Label = $"c{i % 2}", Name = $"r{i}" }).ToList();
        rows[4].Features[77] = value;
        var raw = ml.Data.LoadFromEnumerable(rows);
        var data = ml.Transforms.Conversion.MapValueToKey(TrainingData.Label).Fit(raw).Transform(raw);
        var feeder = new BatchFeeder(data, TrainingData.Features, TrainingData.Label, Settings(cache: true), DataSplit.All);

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => Rows(feeder, 0, train: true));

        StringAssert.Contains(error.Message, "Row 4 (Name = 'r4')");
        StringAssert.Contains(error.Message, "column 'Features'");
        StringAssert.Contains(error.Message, $"pixel 77 is {shown}");
    }

    [TestMethod]
    public void ReadEpoch_LabelOutsideKeyRange_ThrowsNamingRowAndValue()
    {
        // ML.NET's own loaders turn an out-of-range key into a missing one; a custom IDataView can still deliver one.
        var ml = new MLContext(seed: 1);
        var data = new LabelOverrideView(TrainingData.Synthetic(ml, rows: 6, classes: 2, size: 32), row: 2, value: 5);
        var feeder = new BatchFeeder(data, TrainingData.Features, TrainingData.Label, Settings(), DataSplit.All);

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => Rows(feeder, 0, train: false));

        StringAssert.Contains(error.Message, "Row 2");
        StringAssert.Contains(error.Message, "column 'Label'");
        StringAssert.Contains(error.Message, "key value 5 is outside the label's key type (1 to 2");
    }

    [TestMethod]
    public void ReadEpoch_AllBlackImageWithPath_IsDelivered()
    {
        var folder = ImageFolder(perClass: 3, black: true);
        try
        {
            var ml = new MLContext(seed: 1);
            var data = TrainingData.LoadImages(ml, folder, 32);
            var feeder = new BatchFeeder(data, TrainingData.Features, TrainingData.Label, Settings(), DataSplit.All);

            var batches = feeder.ReadEpoch(0, train: false, CancellationToken.None)
                .SelectMany(b => Enumerable.Range(0, b.Count).Select(i => b.Pixels.AsSpan(i * 3 * 32 * 32, 3 * 32 * 32).ToArray()).ToList())
                .ToList();

            Assert.AreEqual(7, batches.Count, "Every image, the black one too.");
            Assert.AreEqual(1, batches.Count(p => p.All(v => v == 0)), "The black image arrives as a row of zeros.");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void ReadEpoch_EmptyImagePath_ThrowsNamingRow()
    {
        var folder = ImageFolder(perClass: 3, black: false);
        try
        {
            var ml = new MLContext(seed: 1);
            var rows = ImagePaths(folder).Select(p => new PathRow { ImagePath = p, Label = Path.GetFileName(Path.GetDirectoryName(p)!) }).ToList();
            rows[4].ImagePath = string.Empty;
            var raw = ml.Data.LoadFromEnumerable(rows);
            var data = ml.Transforms.LoadImages("Image", imageFolder: null, inputColumnName: nameof(PathRow.ImagePath))
                .Append(ml.Transforms.ResizeImages("Image", 32, 32))
                .Append(ml.Transforms.ExtractPixels(TrainingData.Features, "Image", scaleImage: 1f / 255))
                .Append(ml.Transforms.Conversion.MapValueToKey(TrainingData.Label))
                .Fit(raw)
                .Transform(raw);
            var feeder = new BatchFeeder(data, TrainingData.Features, TrainingData.Label, Settings(), DataSplit.All);

            var error = Assert.ThrowsExactly<InvalidOperationException>(() => Rows(feeder, 0, train: true));

            StringAssert.Contains(error.Message, "Row 4 (ImagePath = '')");
            StringAssert.Contains(error.Message, "empty image path");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
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

    /// <summary>A class-per-folder copy of <paramref name="perClass"/> committed Fashion-MNIST images of two classes, plus the black image in the first.</summary>
    private static string ImageFolder(int perClass, bool black)
    {
        var folder = TestPaths.NewTempFolder();
        foreach (var label in new[] { "Bag", "Trouser" })
        {
            var target = Directory.CreateDirectory(Path.Combine(folder, label)).FullName;
            foreach (var file in Directory.GetFiles(Path.Combine(TestPaths.FashionMnistTrain, label), "*.png").Order(StringComparer.Ordinal).Take(perClass))
            {
                File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
            }
        }

        if (black)
        {
            File.Copy(TestPaths.BlackImage, Path.Combine(folder, "Bag", "zz-black.png"));
        }

        return folder;
    }

    /// <summary>The images of <see cref="ImageFolder"/> in the order <see cref="TrainingData.LoadImages(MLContext, string, int)"/> reads them.</summary>
    private static List<string> ImagePaths(string folder) =>
        Directory.GetDirectories(folder).Order(StringComparer.Ordinal)
            .SelectMany(d => Directory.GetFiles(d, "*.png").Order(StringComparer.Ordinal))
            .ToList();

    public sealed class VariableRow
    {
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = string.Empty;

        public string Name { get; set; } = string.Empty;
    }

    /// <summary>A custom IDataView (as users write them) whose key label at one row is <c>value</c>, whatever the key type's count.</summary>
    private sealed class LabelOverrideView(IDataView inner, long row, uint value) : IDataView
    {
        public bool CanShuffle => false;

        public DataViewSchema Schema => inner.Schema;

        public long? GetRowCount() => inner.GetRowCount();

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
            new Cursor(inner.GetRowCursor(columnsNeeded, rand), row, value);

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
            [GetRowCursor(columnsNeeded, rand)];

        private sealed class Cursor(DataViewRowCursor inner, long row, uint value) : DataViewRowCursor
        {
            public override DataViewSchema Schema => inner.Schema;

            public override long Position => inner.Position;

            public override long Batch => inner.Batch;

            public override bool MoveNext() => inner.MoveNext();

            public override ValueGetter<DataViewRowId> GetIdGetter() => inner.GetIdGetter();

            public override bool IsColumnActive(DataViewSchema.Column column) => inner.IsColumnActive(column);

            public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
            {
                var getter = inner.GetGetter<TValue>(column);
                if (column.Name != TrainingData.Label)
                {
                    return getter;
                }

                var label = (ValueGetter<uint>)(object)getter;
                ValueGetter<uint> overridden = (ref uint v) =>
                {
                    label(ref v);
                    if (inner.Position == row)
                    {
                        v = value;
                    }
                };
                return (ValueGetter<TValue>)(object)overridden;
            }

            protected override void Dispose(bool disposing)
            {
                if (disposing)
                {
                    inner.Dispose();
                }

                base.Dispose(disposing);
            }
        }
    }

    public sealed class PathRow
    {
        public string ImagePath { get; set; } = string.Empty;

        public string Label { get; set; } = string.Empty;
    }
}
