using Microsoft.ML.ResNet.Training;

namespace Microsoft.ML.ResNet.Tests.Training;

[TestClass]
public sealed class LearningRateScheduleTests
{
    // The public API's recipe; each test overrides what it is about.
    private static readonly TrainingSettings Recipe = TrainerOptionsResolver.Resolve(new ResNetTrainerOptions(), seed: 0);

    [TestMethod]
    public void At_OneCycle_RisesFromPeakOver25ToPeakThenFallsNearZero()
    {
        var schedule = new LearningRateSchedule(Recipe with { LearningRate = 0.1, Epochs = 10, Schedule = ResNetLearningRateSchedule.OneCycle, WarmupFraction = 0.3 }, stepsPerEpoch: 10);

        Assert.AreEqual(0.1 / 25, schedule.At(0), 1e-9);
        Assert.AreEqual(0.1, Enumerable.Range(0, 100).Max(s => schedule.At(s)), 1e-9);
        Assert.AreEqual(0.1, schedule.At(29), 1e-9, "Peak at the end of the warm-up (30 % of 100 steps).");
        Assert.AreEqual(0.1 / 25 / 1e4, schedule.At(99), 1e-12);
        for (var s = 30; s < 100; s++)
        {
            Assert.IsTrue(schedule.At(s) <= schedule.At(s - 1), $"Step {s} rises.");
        }
    }

    [TestMethod]
    public void At_CosineWithWarmup_RisesLinearlyThenDecaysToZero()
    {
        var schedule = new LearningRateSchedule(Recipe with { LearningRate = 0.2, Epochs = 5, Schedule = ResNetLearningRateSchedule.CosineWithWarmup, WarmupFraction = 0.1 }, stepsPerEpoch: 20);

        Assert.AreEqual(0.02, schedule.At(0), 1e-9);
        Assert.AreEqual(0.2, schedule.At(9), 1e-9);
        Assert.AreEqual(0.2, schedule.At(10), 1e-9);
        Assert.IsTrue(schedule.At(99) < 1e-3);
    }

    [TestMethod]
    public void At_Step_DropsByFactorEveryStepSize()
    {
        var schedule = new LearningRateSchedule(Recipe with { LearningRate = 1, Epochs = 9, Schedule = ResNetLearningRateSchedule.Step, StepSizeEpochs = 3, StepFactor = 0.1 }, stepsPerEpoch: 4);

        Assert.AreEqual(1, schedule.At(11), 1e-12);
        Assert.AreEqual(0.1, schedule.At(12), 1e-12);
        Assert.AreEqual(0.01, schedule.At(35), 1e-12);
    }

    [TestMethod]
    public void At_SpanStartingLater_IsTheFullScheduleShiftedToTheSpan()
    {
        var settings = Recipe with { LearningRate = 0.1, Epochs = 6, Schedule = ResNetLearningRateSchedule.OneCycle, WarmupFraction = 0.3 };
        var whole = new LearningRateSchedule(settings with { Epochs = 2 }, stepsPerEpoch: 10);
        var span = new LearningRateSchedule(settings, stepsPerEpoch: 10, startEpoch: 4, endEpoch: 6);

        for (var s = 0; s < 20; s++)
        {
            Assert.AreEqual(whole.At(s), span.At(40 + s), 1e-15, $"Step {s} of the span.");
        }
    }

    [TestMethod]
    public void At_StepWithoutStepSize_DropsEveryThirdOfTheSpan()
    {
        var schedule = new LearningRateSchedule(Recipe with { LearningRate = 1, Epochs = 9, Schedule = ResNetLearningRateSchedule.Step, StepFactor = 0.1 }, stepsPerEpoch: 4, startEpoch: 3, endEpoch: 9);

        Assert.AreEqual(1, schedule.At(12 + 7), 1e-12, "Epochs 3-4 of the run are the span's first two.");
        Assert.AreEqual(0.1, schedule.At(12 + 8), 1e-12);
        Assert.AreEqual(0.01, schedule.At(12 + 23), 1e-12);
    }

    [TestMethod]
    public void At_HeadWarmup_DecaysFromPeakThenTheScheduleCoversTheRemainingEpochs()
    {
        var settings = Recipe with { LearningRate = 0.1, Epochs = 4, HeadWarmupEpochs = 1, Schedule = ResNetLearningRateSchedule.OneCycle, WarmupFraction = 0.3 };
        var schedule = new LearningRateSchedule(settings, stepsPerEpoch: 10);
        var withoutWarmup = new LearningRateSchedule(settings with { Epochs = 3, HeadWarmupEpochs = 0 }, stepsPerEpoch: 10);

        Assert.AreEqual(0.1, schedule.At(0), 1e-12, "The fresh head starts at the peak rate.");
        for (var s = 1; s < 10; s++)
        {
            Assert.IsTrue(schedule.At(s) < schedule.At(s - 1), $"Head warm-up step {s} does not decay.");
        }

        for (var s = 0; s < 30; s++)
        {
            Assert.AreEqual(withoutWarmup.At(s), schedule.At(10 + s), 1e-12, $"Fine-tuning step {s} is not the one-cycle schedule over the last 3 epochs.");
        }
    }
}
