using System.Text.Json;
using Microsoft.ML.ResNet.Catalog;
using Microsoft.ML.ResNet.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Tests.Training;

/// <summary>The training loop through the trainer's Train (no export): determinism, resume, cancellation, divergence, early stopping.</summary>
[TestClass]
public sealed class ResNetTrainingLoopTests
{
    public TestContext TestContext { get; set; } = null!;

    /// <summary>A small, fast run: ResNet-18 at 32x32 on synthetic data.</summary>
    internal static ResNetTrainerOptions SmallOptions(int epochs = 1, int seed = 5) => new()
    {
        Architecture = ResNetArchitecture.ResNet18,
        ImageHeight = 32,
        ImageWidth = 32,
        Epochs = epochs,
        BatchSize = 8,
        LearningRate = 0.05,
        Seed = seed,
        NumberOfThreads = 2,
    };

    internal static TrainedClassifier Train(MLContext ml, IDataView data, ResNetTrainerOptions options) =>
        ml.MulticlassClassification.Trainers.ResNet(options).Train(data);

    internal static Dictionary<string, float[]> Weights(TrainedClassifier trained) =>
        trained.Model.state_dict().ToDictionary(e => e.Key, e => e.Value.to_type(ScalarType.Float32).data<float>().ToArray());

    internal static void AssertSameWeights(Dictionary<string, float[]> expected, Dictionary<string, float[]> actual)
    {
        CollectionAssert.AreEquivalent(expected.Keys.ToList(), actual.Keys.ToList());
        foreach (var (key, values) in expected)
        {
            CollectionAssert.AreEqual(values, actual[key], $"Tensor '{key}' differs.");
        }
    }

    [TestMethod]
    public void Train_SameSeedTwice_GivesIdenticalWeights()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 40, classes: 4, size: 32);
        using var first = Train(ml, data, SmallOptions());
        using var second = Train(ml, data, SmallOptions());
        using var otherSeed = Train(ml, data, SmallOptions(seed: 6));

        AssertSameWeights(Weights(first), Weights(second));
        Assert.AreNotEqual(Weights(first)["fc.weight"][0], Weights(otherSeed)["fc.weight"][0], "A different seed should give different weights.");
    }

    [TestMethod]
    public void Train_NoSeedSameMLContextSeed_GivesIdenticalWeights()
    {
        var options = SmallOptions();
        options.Seed = null;
        Dictionary<string, float[]> Run(int contextSeed)
        {
            var ml = new MLContext(seed: contextSeed);
            using var trained = Train(ml, TrainingData.Synthetic(ml, rows: 24, classes: 3, size: 32), options);
            return Weights(trained);
        }

        var first = Run(11);
        AssertSameWeights(first, Run(11));
        Assert.AreNotEqual(first["fc.weight"][0], Run(12)["fc.weight"][0]);
    }

    [TestMethod]
    public void Train_CancelledMidRunThenResumed_MatchesUninterruptedRun()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 40, classes: 4, size: 32);
        var uninterruptedFolder = TestPaths.NewTempFolder();
        var resumedFolder = TestPaths.NewTempFolder();
        try
        {
            var options = SmallOptions(epochs: 3);
            options.CheckpointFolder = uninterruptedFolder;
            using var uninterrupted = Train(ml, data, options);

            using var cancel = new CancellationTokenSource();
            var interrupted = SmallOptions(epochs: 3);
            interrupted.CheckpointFolder = resumedFolder;
            interrupted.CancellationToken = cancel.Token;
            interrupted.ProgressInterval = 1;
            interrupted.Progress = p =>
            {
                if (p.Epoch == 2 && p.Step == 2)
                {
                    cancel.Cancel();
                }
            };
            Assert.ThrowsExactly<OperationCanceledException>(() => Train(ml, data, interrupted));
            var statePath = Path.Combine(resumedFolder, CheckpointStore.StateFileName);
            var state = JsonSerializer.Deserialize<CheckpointState>(File.ReadAllText(statePath))!;
            Assert.AreEqual(1, state.CompletedEpochs, "The cancelled run keeps the checkpoint of its last finished epoch.");

            var resume = SmallOptions(epochs: 3);
            resume.CheckpointFolder = resumedFolder;
            using var resumed = Train(ml, data, resume);

            Assert.AreEqual(2, resumed.Outcome.History.Count, "The resumed run trains only the unfinished epochs.");
            Assert.AreEqual(3, resumed.Outcome.CompletedEpochs);
            AssertSameWeights(Weights(uninterrupted), Weights(resumed));
        }
        finally
        {
            Directory.Delete(uninterruptedFolder, recursive: true);
            Directory.Delete(resumedFolder, recursive: true);
        }
    }

    [TestMethod]
    public void Train_Cancelled_LeavesLastCheckpointUnchanged()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 24, classes: 3, size: 32);
        var folder = TestPaths.NewTempFolder();
        try
        {
            var first = SmallOptions(epochs: 2);
            first.CheckpointFolder = folder;
            using var cancel = new CancellationTokenSource();
            first.CancellationToken = cancel.Token;
            first.ProgressInterval = 1;
            first.Progress = p =>
            {
                if (p.Epoch == 2 && p.Step == 1)
                {
                    cancel.Cancel();
                }
            };
            Assert.ThrowsExactly<OperationCanceledException>(() => Train(ml, data, first));
            var before = Directory.GetFiles(folder).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
            Assert.IsTrue(before.ContainsKey("epoch-0001.model"), $"Files: {string.Join(", ", before.Keys)}");

            using var preCancelled = new CancellationTokenSource();
            preCancelled.Cancel();
            var second = SmallOptions(epochs: 2);
            second.CheckpointFolder = folder;
            second.CancellationToken = preCancelled.Token;
            Assert.ThrowsExactly<OperationCanceledException>(() => Train(ml, data, second));

            var after = Directory.GetFiles(folder).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
            CollectionAssert.AreEquivalent(before.Keys.ToList(), after.Keys.ToList(), "No file may appear or vanish (temp files included).");
            foreach (var (name, bytes) in before)
            {
                CollectionAssert.AreEqual(bytes, after[name], $"{name} changed.");
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void Train_DivergingInSecondEpoch_LeavesFirstEpochCheckpointUnchanged()
    {
        var ml = new MLContext(seed: 1);
        var rows = new TurnsNaNRows(rows: 16, nanFromPass: 3);
        var schema = Microsoft.ML.Data.SchemaDefinition.Create(typeof(PixelRow));
        schema[nameof(PixelRow.Features)].ColumnType = new Microsoft.ML.Data.VectorDataViewType(Microsoft.ML.Data.NumberDataViewType.Single, 3 * 32 * 32);
        var raw = ml.Data.LoadFromEnumerable(rows, schema);
        var data = ml.Transforms.Conversion.MapValueToKey(TrainingData.Label).Fit(raw).Transform(raw);
        rows.Passes = 0;
        var folder = TestPaths.NewTempFolder();
        try
        {
            var options = SmallOptions(epochs: 2);
            options.CheckpointFolder = folder;
            Dictionary<string, byte[]>? afterFirstEpoch = null;
            options.Progress = p =>
            {
                if (p.IsEpochEnd && p.Epoch == 1)
                {
                    afterFirstEpoch = Directory.GetFiles(folder).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
                }
            };

            var error = Assert.ThrowsExactly<InvalidOperationException>(() => Train(ml, data, options));

            StringAssert.Contains(error.Message, "epoch 2, step 1");
            Assert.IsNotNull(afterFirstEpoch);
            var now = Directory.GetFiles(folder).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
            CollectionAssert.AreEquivalent(afterFirstEpoch.Keys.ToList(), now.Keys.ToList());
            foreach (var (name, bytes) in afterFirstEpoch)
            {
                CollectionAssert.AreEqual(bytes, now[name], $"{name} changed.");
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void Train_CheckpointOfOtherSettings_IsRefused()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 16, classes: 2, size: 32);
        var folder = TestPaths.NewTempFolder();
        try
        {
            var first = SmallOptions();
            first.CheckpointFolder = folder;
            using (Train(ml, data, first))
            {
            }

            var other = SmallOptions();
            other.CheckpointFolder = folder;
            other.LearningRate = 0.01;
            var error = Assert.ThrowsExactly<InvalidOperationException>(() => Train(ml, data, other));
            StringAssert.Contains(error.Message, folder);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void Train_DivergingLearningRate_StopsNamingEpochStepAndRate()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 40, classes: 4, size: 32);
        var options = SmallOptions(epochs: 2);
        options.LearningRate = 1e12;
        options.LearningRateSchedule = ResNetLearningRateSchedule.Constant;

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => Train(ml, data, options));

        StringAssert.Contains(error.Message, "diverged");
        StringAssert.Matches(error.Message, new System.Text.RegularExpressions.Regex(@"epoch \d+, step \d+ \(learning rate 1E\+12\)"));
    }

    [TestMethod]
    public void Train_EarlyStopping_RestoresBestValidationWeights()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 48, classes: 4, size: 32);
        var options = SmallOptions(epochs: 4);
        options.ValidationFraction = 0.25;
        options.EarlyStoppingPatience = 1;
        options.EarlyStoppingMetric = ResNetEarlyStoppingMetric.ValidationLoss;
        options.LearningRateSchedule = ResNetLearningRateSchedule.Constant;
        options.LearningRate = 0.2;
        var reports = new List<ResNetTrainingProgress>();
        options.Progress = reports.Add;

        using var trained = Train(ml, data, options);

        var epochs = reports.Where(r => r.IsEpochEnd).ToList();
        Assert.IsTrue(epochs.All(r => r.ValidationLoss is not null), "Every epoch reports its validation loss.");
        var best = epochs.MinBy(r => r.ValidationLoss!.Value)!;
        Assert.AreEqual(best.Epoch, trained.Outcome.BestEpoch);
        Assert.AreEqual(best.ValidationLoss!.Value, trained.Outcome.BestMetric!.Value, 1e-9);

        // The restored weights give the best epoch's validation loss again.
        var settings = trained.Settings;
        var holdout = new BatchFeeder(data, TrainingData.Features, TrainingData.Label, settings, DataSplit.Holdout);
        var (_, loss) = new ResNetTrainingLoop(settings, CPU, null).Evaluate(trained.Model, holdout, CancellationToken.None);
        Assert.AreEqual(best.ValidationLoss!.Value, loss, 1e-4);
        TestContext.WriteLine($"epochs run {epochs.Count}, best epoch {best.Epoch}, stopped early {trained.Outcome.StoppedEarly}");
    }

    [TestMethod]
    public void Train_Progress_ReportsEveryFieldSensibly()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 40, classes: 4, size: 32);
        var options = SmallOptions(epochs: 2);
        options.ValidationFraction = 0.2;
        options.ProgressInterval = 2;
        var reports = new List<ResNetTrainingProgress>();
        options.Progress = reports.Add;

        using var trained = Train(ml, data, options);

        var ends = reports.Where(r => r.IsEpochEnd).ToList();
        Assert.AreEqual(2, ends.Count);
        Assert.IsTrue(reports.Any(r => !r.IsEpochEnd), "Step reports come between epoch ends.");
        foreach (var report in reports)
        {
            Assert.AreEqual(2, report.Epochs);
            Assert.IsTrue(report.Step >= 1 && report.Step <= report.StepsPerEpoch, report.ToString());
            Assert.IsTrue(double.IsFinite(report.Loss) && report.Loss > 0, report.ToString());
            Assert.IsTrue(report.TrainAccuracy is >= 0 and <= 1, report.ToString());
            Assert.IsTrue(report.LearningRate > 0, report.ToString());
            Assert.IsTrue(report.ImagesPerSecond > 0, report.ToString());
            Assert.IsTrue(report.DataWaitFraction is >= 0 and <= 1, report.ToString());
        }

        Assert.IsTrue(ends.All(r => r.ValidationAccuracy is >= 0 and <= 1));
        Assert.AreEqual(TimeSpan.Zero, ends[^1].EstimatedTimeRemaining);
    }

    [TestMethod]
    public void Train_ValidationDataView_IsEvaluatedEveryEpoch()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 24, classes: 3, size: 32, seed: 1);
        var options = SmallOptions(epochs: 2);
        options.ValidationData = TrainingData.Synthetic(ml, rows: 9, classes: 3, size: 32, seed: 2);
        options.EarlyStoppingPatience = 5;
        var reports = new List<ResNetTrainingProgress>();
        options.Progress = reports.Add;

        using var trained = Train(ml, data, options);

        var ends = reports.Where(r => r.IsEpochEnd).ToList();
        Assert.AreEqual(2, ends.Count);
        Assert.IsTrue(ends.All(r => r.ValidationAccuracy is { } accuracy && Math.Abs(accuracy * 9 - Math.Round(accuracy * 9)) < 1e-9), "Accuracy over the 9 validation rows.");
        Assert.AreEqual(ends.Max(r => r.ValidationAccuracy!.Value), trained.Outcome.BestMetric!.Value, 1e-12);
    }

    [TestMethod]
    public void Train_AdamWCosineRandomResizedCrop_Trains()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 32, classes: 2, size: 32);
        var options = SmallOptions(epochs: 2);
        options.Optimizer = ResNetOptimizer.AdamW;
        options.LearningRate = null;
        options.LearningRateSchedule = ResNetLearningRateSchedule.CosineWithWarmup;
        options.Crop = ResNetCropAugmentation.RandomResizedCrop;
        var reports = new List<ResNetTrainingProgress>();
        options.Progress = reports.Add;
        options.ProgressInterval = 1;

        using var trained = Train(ml, data, options);

        Assert.AreEqual(1e-3, reports.Max(r => r.LearningRate), 1e-9, "AdamW's default peak rate.");
        Assert.IsTrue(reports.All(r => double.IsFinite(r.Loss)));
    }

    [TestMethod]
    public void Train_NoProgressCallback_WritesToMLContextLog()
    {
        var ml = new MLContext(seed: 1);
        var lines = new List<string>();
        ml.Log += (_, e) =>
        {
            if (e.Source.Contains("ResNetTrainer", StringComparison.Ordinal))
            {
                lines.Add(e.Message);
            }
        };
        var data = TrainingData.Synthetic(ml, rows: 24, classes: 3, size: 32);

        using var trained = Train(ml, data, SmallOptions());

        Assert.IsTrue(lines.Any(l => l.Contains("epoch 1/1", StringComparison.Ordinal)), string.Join(Environment.NewLine, lines));
    }

    public sealed class PixelRow
    {
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = string.Empty;
    }

    /// <summary>Rows that turn to NaN pixels from the given pass over them on: a run that diverges in a later epoch.</summary>
    private sealed class TurnsNaNRows(int rows, int nanFromPass) : IEnumerable<PixelRow>
    {
        public int Passes { get; set; }

        public IEnumerator<PixelRow> GetEnumerator()
        {
            var pass = ++Passes;
            for (var i = 0; i < rows; i++)
            {
                var value = pass >= nanFromPass ? float.NaN : (i % 2) * 0.5f + 0.25f;
                yield return new PixelRow { Features = Enumerable.Repeat(value, 3 * 32 * 32).ToArray(), Label = $"c{i % 2}" };
            }
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>
    /// Starting from ImageNet weights: the head-warm-up epoch moves only fc (the backbone and its BatchNorm statistics stay as
    /// loaded), then fine-tuning moves the backbone too.
    /// </summary>
    [TestMethod]
    public void Train_HeadWarmupEpoch_MovesOnlyTheHeadThenFineTunesTheBackbone()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 16, classes: 4, size: 32);
        var options = SmallOptions(epochs: 2);
        options.StartingWeights = ResNetStartingWeights.ImageNet;
        using var start = PretrainedStart.Open(options)!;
        var settings = start.ApplyTo(TrainerOptionsResolver.Resolve(options, seed: 5));
        using var model = new Modeling.ResNetModel(new Modeling.ResNetSpec(settings.Architecture, 4, StageDepths: settings.StageDepths));
        start.LoadInto(model);
        var loaded = Snapshot(model);
        var afterEpoch = new List<Dictionary<string, float[]>>();
        var loop = new ResNetTrainingLoop(settings, CPU, p =>
        {
            if (p.IsEpochEnd)
            {
                afterEpoch.Add(Snapshot(model));
            }
        });

        loop.Train(model, new BatchFeeder(data, TrainingData.Features, TrainingData.Label, settings, DataSplit.All), null, CancellationToken.None);

        Assert.AreEqual(2, afterEpoch.Count);
        foreach (var key in loaded.Keys.Where(k => !k.StartsWith("fc.", StringComparison.Ordinal)))
        {
            CollectionAssert.AreEqual(loaded[key], afterEpoch[0][key], $"'{key}' changed during head warm-up.");
        }

        CollectionAssert.AreNotEqual(loaded["fc.weight"], afterEpoch[0]["fc.weight"], "The head learns during warm-up.");
        CollectionAssert.AreNotEqual(loaded["layer4.1.conv2.weight"], afterEpoch[1]["layer4.1.conv2.weight"], "Fine-tuning moves the backbone.");
        CollectionAssert.AreNotEqual(loaded["bn1.running_mean"], afterEpoch[1]["bn1.running_mean"], "Fine-tuning updates BatchNorm statistics.");
    }

    private static Dictionary<string, float[]> Snapshot(Modeling.ResNetModel model) =>
        model.state_dict().ToDictionary(e => e.Key, e => e.Value.to_type(ScalarType.Float32).data<float>().ToArray());
}
