using System.Text.Json;
using Microsoft.ML.ResNet.Catalog;
using Microsoft.ML.ResNet.Modeling;
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
        using var uninterruptedFolder = TempFolder.Create();
        using var resumedFolder = TempFolder.Create();
        var options = SmallOptions(epochs: 3);
        options.CheckpointFolder = uninterruptedFolder.Path;
        using var uninterrupted = Train(ml, data, options);

        using var cancel = new CancellationTokenSource();
        var interrupted = SmallOptions(epochs: 3);
        interrupted.CheckpointFolder = resumedFolder.Path;
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
        var statePath = resumedFolder.File(CheckpointStore.StateFileName);
        var state = JsonSerializer.Deserialize<CheckpointState>(File.ReadAllText(statePath))!;
        Assert.AreEqual(1, state.CompletedEpochs, "The cancelled run keeps the checkpoint of its last finished epoch.");

        var resume = SmallOptions(epochs: 3);
        resume.CheckpointFolder = resumedFolder.Path;
        using var resumed = Train(ml, data, resume);

        Assert.AreEqual(2, resumed.Outcome.History.Count, "The resumed run trains only the unfinished epochs.");
        Assert.AreEqual(3, resumed.Outcome.CompletedEpochs);
        AssertSameWeights(Weights(uninterrupted), Weights(resumed));
    }

    [TestMethod]
    public void Train_Cancelled_LeavesLastCheckpointUnchanged()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 24, classes: 3, size: 32);
        using var folder = TempFolder.Create();
        var first = SmallOptions(epochs: 2);
        first.CheckpointFolder = folder.Path;
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
        var before = Directory.GetFiles(folder.Path).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
        Assert.IsTrue(before.ContainsKey("epoch-0001.model"), $"Files: {string.Join(", ", before.Keys)}");

        // The second run really resumes (reads the checkpoint, trains steps of epoch 2) before it is cancelled.
        using var cancelAgain = new CancellationTokenSource();
        var second = SmallOptions(epochs: 2);
        second.CheckpointFolder = folder.Path;
        second.CancellationToken = cancelAgain.Token;
        second.ProgressInterval = 1;
        var resumedSteps = new List<(int Epoch, int Step)>();
        second.Progress = p =>
        {
            resumedSteps.Add((p.Epoch, p.Step));
            if (p.Epoch == 2 && p.Step == 2)
            {
                cancelAgain.Cancel();
            }
        };
        Assert.ThrowsExactly<OperationCanceledException>(() => Train(ml, data, second));
        CollectionAssert.AreEqual(new[] { (2, 1), (2, 2) }, resumedSteps, "The second run resumed at epoch 2 and trained two steps.");

        var after = Directory.GetFiles(folder.Path).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
        CollectionAssert.AreEquivalent(before.Keys.ToList(), after.Keys.ToList(), "No file may appear or vanish (temp files included).");
        foreach (var (name, bytes) in before)
        {
            CollectionAssert.AreEqual(bytes, after[name], $"{name} changed.");
        }
    }

    [TestMethod]
    public void Train_FailingInSecondEpoch_LeavesFirstEpochCheckpointUnchanged()
    {
        var ml = new MLContext(seed: 1);
        var rows = new TurnsNaNRows(rows: 16, nanFromPass: 3);
        var schema = Microsoft.ML.Data.SchemaDefinition.Create(typeof(PixelRow));
        schema[nameof(PixelRow.Features)].ColumnType = new Microsoft.ML.Data.VectorDataViewType(Microsoft.ML.Data.NumberDataViewType.Single, 3 * 32 * 32);
        var raw = ml.Data.LoadFromEnumerable(rows, schema);
        var data = ml.Transforms.Conversion.MapValueToKey(TrainingData.Label).Fit(raw).Transform(raw);
        rows.Passes = 0;
        using var folder = TempFolder.Create();
        var options = SmallOptions(epochs: 2);
        options.CheckpointFolder = folder.Path;
        Dictionary<string, byte[]>? afterFirstEpoch = null;
        options.Progress = p =>
        {
            if (p.IsEpochEnd && p.Epoch == 1)
            {
                afterFirstEpoch = Directory.GetFiles(folder.Path).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
            }
        };

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => Train(ml, data, options));

        StringAssert.Contains(error.Message, "Row 0");
        StringAssert.Contains(error.Message, "pixel 0 is NaN");
        Assert.IsNotNull(afterFirstEpoch);
        var now = Directory.GetFiles(folder.Path).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
        CollectionAssert.AreEquivalent(afterFirstEpoch.Keys.ToList(), now.Keys.ToList());
        foreach (var (name, bytes) in afterFirstEpoch)
        {
            CollectionAssert.AreEqual(bytes, now[name], $"{name} changed.");
        }
    }

    [TestMethod]
    public void Train_NoSeedCheckpointThenFreshMLContext_ResumesInsteadOfRefusing()
    {
        // The issue's reproduction: one epoch with a checkpoint folder and no seed, then the same pipeline in a new MLContext.
        using var folder = TempFolder.Create();
        var options = SmallOptions(epochs: 1);
        options.Seed = null;
        options.CheckpointFolder = folder.Path;
        Dictionary<string, float[]> first;
        var ml = new MLContext();
        using (var trained = Train(ml, TrainingData.Synthetic(ml, rows: 24, classes: 3, size: 32), options))
        {
            first = Weights(trained);
        }

        var fresh = new MLContext();
        using var resumed = Train(fresh, TrainingData.Synthetic(fresh, rows: 24, classes: 3, size: 32), options);

        Assert.AreEqual(0, resumed.Outcome.History.Count, "The finished epoch is not trained again.");
        Assert.AreEqual(1, resumed.Outcome.CompletedEpochs);
        AssertSameWeights(first, Weights(resumed));
    }

    [TestMethod]
    public void Train_NoSeedInterruptedThenFreshMLContext_MatchesUninterruptedRunOfTheStoredSeed()
    {
        using var interruptedFolder = TempFolder.Create();
        using var referenceFolder = TempFolder.Create();
        using var cancel = new CancellationTokenSource();
        var interrupted = SmallOptions(epochs: 2);
        interrupted.Seed = null;
        interrupted.CheckpointFolder = interruptedFolder.Path;
        interrupted.CancellationToken = cancel.Token;
        interrupted.Progress = p =>
        {
            if (p.IsEpochEnd && p.Epoch == 1)
            {
                cancel.Cancel();
            }
        };
        var ml = new MLContext();
        Assert.ThrowsExactly<OperationCanceledException>(() => Train(ml, TrainingData.Synthetic(ml, rows: 40, classes: 4, size: 32), interrupted));
        var state = JsonSerializer.Deserialize<CheckpointState>(File.ReadAllText(interruptedFolder.File(CheckpointStore.StateFileName)))!;

        var resume = SmallOptions(epochs: 2);
        resume.Seed = null;
        resume.CheckpointFolder = interruptedFolder.Path;
        var fresh = new MLContext();
        using var resumed = Train(fresh, TrainingData.Synthetic(fresh, rows: 40, classes: 4, size: 32), resume);

        var reference = SmallOptions(epochs: 2, seed: state.Seed);
        reference.CheckpointFolder = referenceFolder.Path;
        var other = new MLContext();
        using var uninterrupted = Train(other, TrainingData.Synthetic(other, rows: 40, classes: 4, size: 32), reference);

        Assert.AreEqual(1, resumed.Outcome.History.Count);
        Assert.AreEqual(state.Seed, resumed.Settings.Seed, "The resumed run took the checkpoint's seed.");
        AssertSameWeights(Weights(uninterrupted), Weights(resumed));
    }

    [TestMethod]
    public void Train_MoreEpochsAfterFinishedRun_TrainsOnlyTheAddedEpochsWithAFreshScheduleSpan()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 40, classes: 4, size: 32);
        using var folder = TempFolder.Create();
        var first = SmallOptions(epochs: 2);
        first.CheckpointFolder = folder.Path;
        using (Train(ml, data, first))
        {
        }

        var more = SmallOptions(epochs: 3);
        more.CheckpointFolder = folder.Path;
        more.ProgressInterval = 1;
        var reports = new List<ResNetTrainingProgress>();
        more.Progress = reports.Add;
        using var extended = Train(ml, data, more);

        Assert.AreEqual(1, extended.Outcome.History.Count, "Only the added epoch is trained.");
        Assert.AreEqual(3, extended.Outcome.CompletedEpochs);
        Assert.IsTrue(reports.All(r => r.Epoch == 3), string.Join("; ", reports.Select(r => $"{r.Epoch}.{r.Step}")));

        // One-cycle over the added epoch: it starts at peak / 25 again (not at the old run's annealed ~0).
        Assert.AreEqual(0.05 / 25, reports[0].LearningRate, 1e-12);
        Assert.AreEqual(0.05, reports.Where(r => !r.IsEpochEnd).Max(r => r.LearningRate), 0.05 * 0.2, "The span warms up towards the peak.");
        var state = JsonSerializer.Deserialize<CheckpointState>(File.ReadAllText(folder.File(CheckpointStore.StateFileName)))!;
        Assert.AreEqual((3, 2, 3), (state.CompletedEpochs, state.ScheduleStartEpoch, state.ScheduleEndEpoch));
    }

    [TestMethod]
    public void Train_FewerEpochsThanTheCheckpointFinished_IsRefused()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 16, classes: 2, size: 32);
        using var folder = TempFolder.Create();
        var first = SmallOptions(epochs: 2);
        first.CheckpointFolder = folder.Path;
        using (Train(ml, data, first))
        {
        }

        var fewer = SmallOptions(epochs: 1);
        fewer.CheckpointFolder = folder.Path;
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => Train(ml, data, fewer));

        StringAssert.Contains(error.Message, folder.Path);
        StringAssert.Contains(error.Message, "2 finished epochs");
        StringAssert.Contains(error.Message, "Epochs = 1");
    }

    [TestMethod]
    public void Train_ExplicitSeedOtherThanTheCheckpoints_IsRefused()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 16, classes: 2, size: 32);
        using var folder = TempFolder.Create();
        var first = SmallOptions(seed: 5);
        first.CheckpointFolder = folder.Path;
        using (Train(ml, data, first))
        {
        }

        var other = SmallOptions(seed: 6);
        other.CheckpointFolder = folder.Path;
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => Train(ml, data, other));

        StringAssert.Contains(error.Message, folder.Path);
        StringAssert.Contains(error.Message, "seed 5");
        StringAssert.Contains(error.Message, "Seed = 6");
    }

    [TestMethod]
    public void Train_TwoRunsAtOnce_EachGivesTheWeightsOfItsRunAlone()
    {
        // Separate contexts and data per run: only libtorch's process-wide state is shared.
        static Dictionary<string, float[]> Run(int seed, int threads)
        {
            var ml = new MLContext(seed: 1);
            var options = SmallOptions(seed: seed);
            options.NumberOfThreads = threads;
            using var trained = Train(ml, TrainingData.Synthetic(ml, rows: 24, classes: 3, size: 32), options);
            return Weights(trained);
        }

        var alone5 = Run(5, threads: 2);
        var alone6 = Run(6, threads: 1);
        using var start = new Barrier(2);
        var first = Task.Factory.StartNew(() => { start.SignalAndWait(); return Run(5, threads: 2); }, TaskCreationOptions.LongRunning);
        var second = Task.Factory.StartNew(() => { start.SignalAndWait(); return Run(6, threads: 1); }, TaskCreationOptions.LongRunning);
        Assert.IsTrue(Task.WaitAll([first, second], TimeSpan.FromMinutes(5)), "Two runs at once did not finish within 5 minutes.");

        AssertSameWeights(alone5, first.Result);
        AssertSameWeights(alone6, second.Result);
    }

    [TestMethod]
    public void Train_StartedFromAnotherRunsProgressCallback_ThrowsInsteadOfDeadlocking()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 16, classes: 2, size: 32);
        Exception? nested = null;
        var outer = SmallOptions();
        outer.Progress = _ =>
        {
            if (nested is null)
            {
                try
                {
                    using (Train(ml, data, SmallOptions()))
                    {
                    }

                    nested = new AssertFailedException("The nested run trained.");
                }
                catch (InvalidOperationException e)
                {
                    nested = e;
                }
            }
        };

        var run = Task.Factory.StartNew(() => Train(ml, data, outer).Dispose(), TaskCreationOptions.LongRunning);

        Assert.IsTrue(run.Wait(TimeSpan.FromMinutes(2)), "A run started from another's progress callback deadlocked.");
        Assert.IsInstanceOfType<InvalidOperationException>(nested);
        StringAssert.Contains(nested.Message, "one at a time");
    }

    [TestMethod]
    public void Train_WithNumberOfThreads_PutsLibtorchsThreadCountBack()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 16, classes: 2, size: 32);
        var before = TorchSharp.torch.get_num_threads();
        var options = SmallOptions();
        options.NumberOfThreads = before == 1 ? 2 : 1;
        var during = 0;
        options.Progress = _ => during = TorchSharp.torch.get_num_threads();

        using (Train(ml, data, options))
        {
        }

        Assert.AreEqual(options.NumberOfThreads, during, "The run uses its own thread count.");
        Assert.AreEqual(before, TorchSharp.torch.get_num_threads(), "The process-wide count is put back after the run.");
    }

    [TestMethod]
    public void Train_CheckpointOfOtherSettings_IsRefused()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 16, classes: 2, size: 32);
        using var folder = TempFolder.Create();
        var first = SmallOptions();
        first.CheckpointFolder = folder.Path;
        using (Train(ml, data, first))
        {
        }

        var other = SmallOptions();
        other.CheckpointFolder = folder.Path;
        other.LearningRate = 0.01;
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => Train(ml, data, other));
        StringAssert.Contains(error.Message, folder.Path);
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
        // Restoring is only observable when the best epoch is not the last (a steadily improving run ends with the best
        // weights anyway). The training labels turn wrong from epoch 3 on, so validation is bound to get worse by then.
        var ml = new MLContext(seed: 1);
        var trainingRows = new FlipsLabelsRows(rows: 96, classes: 4, flipFromPass: 4);
        var data = KeyedPixels(ml, trainingRows);
        trainingRows.Passes = 0;
        var validation = KeyedPixels(ml, new FlipsLabelsRows(rows: 16, classes: 4, flipFromPass: int.MaxValue));
        var options = SmallOptions(epochs: 5);
        options.ValidationData = validation;
        options.EarlyStoppingPatience = 1;
        options.EarlyStoppingMetric = ResNetEarlyStoppingMetric.ValidationLoss;
        options.LearningRateSchedule = ResNetLearningRateSchedule.Constant;
        options.LearningRate = 0.01;
        var reports = new List<ResNetTrainingProgress>();
        options.Progress = reports.Add;

        using var trained = Train(ml, data, options);

        var epochs = reports.Where(r => r.IsEpochEnd).ToList();
        Assert.IsTrue(epochs.All(r => r.ValidationLoss is not null), "Every epoch reports its validation loss.");
        var best = epochs.MinBy(r => r.ValidationLoss!.Value)!;
        TestContext.WriteLine(string.Join("; ", epochs.Select(e => $"epoch {e.Epoch} val-loss {e.ValidationLoss:0.0000}")));
        Assert.IsTrue(best.Epoch < epochs[^1].Epoch, "The scenario must end worse than its best epoch.");
        Assert.IsTrue(trained.Outcome.StoppedEarly, "Patience 1 stops after the first worse epoch.");
        Assert.AreEqual(best.Epoch, trained.Outcome.BestEpoch);
        Assert.AreEqual(best.ValidationLoss!.Value, trained.Outcome.BestMetric!.Value, 1e-9);

        // The restored weights give the best epoch's validation loss again, not the last epoch's.
        var settings = trained.Settings;
        var feeder = new BatchFeeder(validation, TrainingData.Features, TrainingData.Label, settings, DataSplit.All);
        var (_, loss) = new ResNetTrainingLoop(settings, CPU, null).Evaluate(trained.Model, feeder, CancellationToken.None);
        Assert.AreEqual(best.ValidationLoss!.Value, loss, 1e-4);
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

    private static IDataView KeyedPixels(MLContext ml, IEnumerable<PixelRow> rows)
    {
        var schema = Microsoft.ML.Data.SchemaDefinition.Create(typeof(PixelRow));
        schema[nameof(PixelRow.Features)].ColumnType = new Microsoft.ML.Data.VectorDataViewType(Microsoft.ML.Data.NumberDataViewType.Single, 3 * 32 * 32);
        var raw = ml.Data.LoadFromEnumerable(rows, schema);
        return ml.Transforms.Conversion.MapValueToKey(TrainingData.Label).Fit(raw).Transform(raw);
    }

    /// <summary>
    /// Easy rows (each class its own brightness, plus noise) whose labels shift to the next class from the given pass
    /// over them on: training that learns, then unlearns what validation checks.
    /// </summary>
    private sealed class FlipsLabelsRows(int rows, int classes, int flipFromPass) : IEnumerable<PixelRow>
    {
        public int Passes { get; set; }

        public IEnumerator<PixelRow> GetEnumerator()
        {
            var pass = ++Passes;
            var random = new Random(3);
            for (var i = 0; i < rows; i++)
            {
                var label = i % classes;
                var pixels = new float[3 * 32 * 32];
                for (var p = 0; p < pixels.Length; p++)
                {
                    pixels[p] = 0.1f + 0.8f * label / (classes - 1) + (float)(random.NextDouble() - 0.5) * 0.1f;
                }

                var shown = pass >= flipFromPass ? (label + 1) % classes : label;
                yield return new PixelRow { Features = pixels, Label = $"c{shown}" };
            }
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>Rows that turn to NaN pixels from the given pass over them on: a run that fails in a later epoch.</summary>
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
        options.FrozenStages = 0;  // every stage fine-tunes: ImageNet's default would freeze the stem this test watches
        options.FitHeadFirst = false;
        options.FreezeBatchNormStatistics = false;
        var (settings, model, loaded) = ImageNetStart(options, classes: 4);
        using var owned = model;
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

    /// <summary>
    /// Starting from ImageNet weights with the defaults (head fitted first, BatchNorm statistics kept) and two frozen stages:
    /// before the first step the head already moved far more than the tiny learning rate allows; the stem and layer1 stay
    /// exactly as loaded; layer2 learns its weights but keeps its BatchNorm statistics.
    /// </summary>
    [TestMethod]
    public void Train_FitHeadFirstWithFrozenStages_FitsTheHeadAndKeepsFrozenStagesAsLoaded()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 16, classes: 4, size: 32);
        var options = SmallOptions(epochs: 1);
        options.StartingWeights = ResNetStartingWeights.ImageNet;
        options.FrozenStages = 2;
        options.LearningRate = 1e-9;
        var (settings, model, loaded) = ImageNetStart(options, classes: 4);
        using (model)
        {
            new ResNetTrainingLoop(settings, CPU, null).Train(model, new BatchFeeder(data, TrainingData.Features, TrainingData.Label, settings, DataSplit.All), null, CancellationToken.None);

            var after = Snapshot(model);
            Assert.IsTrue(settings.FitHeadFirst && settings.FreezeBatchNormStatistics, "A pretrained start fits the head first and keeps BatchNorm statistics by default.");
            Assert.IsTrue(MaxChange(loaded["fc.weight"], after["fc.weight"]) > 1e-3, "The head was fitted before the first step.");
            foreach (var key in loaded.Keys.Where(k => k.StartsWith("conv1.", StringComparison.Ordinal) || k.StartsWith("bn1.", StringComparison.Ordinal) || k.StartsWith("layer1.", StringComparison.Ordinal)))
            {
                CollectionAssert.AreEqual(loaded[key], after[key], $"'{key}' is in a frozen stage and changed.");
            }

            CollectionAssert.AreEqual(loaded["layer2.0.bn1.running_mean"], after["layer2.0.bn1.running_mean"], "BatchNorm statistics are kept everywhere.");
            CollectionAssert.AreNotEqual(loaded["layer2.0.conv1.weight"], after["layer2.0.conv1.weight"], "Unfrozen stages learn.");
        }
    }

    private static (TrainingSettings Settings, ResNetModel Model, Dictionary<string, float[]> Loaded) ImageNetStart(ResNetTrainerOptions options, int classes)
    {
        using var start = PretrainedStart.Open(options)!;
        var settings = start.ApplyTo(TrainerOptionsResolver.Resolve(options, seed: 5));
        var model = new ResNetModel(new ResNetSpec(settings.Architecture, classes, StageDepths: settings.StageDepths));
        start.LoadInto(model);
        return (settings, model, Snapshot(model));
    }

    private static double MaxChange(float[] before, float[] after) => before.Zip(after, (b, a) => Math.Abs(a - b)).Max();

    private static Dictionary<string, float[]> Snapshot(ResNetModel model) =>
        model.state_dict().ToDictionary(e => e.Key, e => e.Value.to_type(ScalarType.Float32).data<float>().ToArray());
}
