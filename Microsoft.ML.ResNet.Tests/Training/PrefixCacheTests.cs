using Microsoft.ML.ResNet.Catalog;
using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Tests.Training;

/// <summary>
/// The frozen stages' output computed once: training on it gives the network training through the frozen stages gives,
/// and its augmentation (mirror image, shift by cells) is the frozen stages' output of the augmented image.
/// </summary>
[TestClass]
public sealed class PrefixCacheTests
{
    private const int Classes = 4;

    // Same arithmetic in the same order on the same batches; only the summation order inside libtorch's kernels may differ.
    private const float WeightTolerance = 1e-5f;

    /// <summary>
    /// ImageNet weights, two frozen stages, float32, no augmentation, the head fitted first, then two steps: the cached run
    /// (frozen stages run once, up front) ends with the weights of the uncached one (frozen stages every step).
    /// </summary>
    [TestMethod]
    public void Train_CachedFrozenStagesWithoutAugmentation_GivesTheUncachedNetwork()
    {
        var uncached = TrainTwoSteps(cache: false, out var uncachedOutcome);
        var cached = TrainTwoSteps(cache: true, out var cachedOutcome);

        Assert.AreEqual(1, uncachedOutcome.CompletedEpochs);
        Assert.AreEqual(1, cachedOutcome.CompletedEpochs);
        Assert.AreEqual(uncachedOutcome.History[0].Loss, cachedOutcome.History[0].Loss, 1e-5, "The epoch's mean loss differs.");
        foreach (var (key, expected) in uncached)
        {
            var largest = expected.Zip(cached[key], (e, a) => Math.Abs(e - a)).Max();
            Assert.IsTrue(largest <= WeightTolerance, $"'{key}' differs by up to {largest:G3} between the cached and the uncached run.");
        }

        Assert.IsTrue(uncached["layer2.0.conv1.weight"].Zip(Loaded()["layer2.0.conv1.weight"], (a, b) => Math.Abs(a - b)).Max() > 0, "The learning stages must have learned for the comparison to mean anything.");
    }

    /// <summary>
    /// A frozen backbone: every stage's output is computed once (the cache applies without being asked) and only the head
    /// trains on it; without augmentation the cached run ends with the uncached run's head and loss, the backbone as loaded.
    /// </summary>
    [TestMethod]
    public void Train_CachedFrozenBackboneWithoutAugmentation_GivesTheUncachedHead()
    {
        var uncached = TrainTwoSteps(cache: false, out var uncachedOutcome, freezeBackbone: true);
        var cached = TrainTwoSteps(cache: null, out var cachedOutcome, freezeBackbone: true);

        Assert.AreEqual(uncachedOutcome.History[0].Loss, cachedOutcome.History[0].Loss, 1e-5, "The epoch's mean loss differs.");
        var loaded = Loaded();
        foreach (var (key, expected) in uncached)
        {
            var largest = expected.Zip(cached[key], (e, a) => Math.Abs(e - a)).Max();
            Assert.IsTrue(largest <= WeightTolerance, $"'{key}' differs by up to {largest:G3} between the cached and the uncached run.");
            if (!key.StartsWith("fc.", StringComparison.Ordinal))
            {
                CollectionAssert.AreEqual(loaded[key], cached[key], $"'{key}' is in the frozen backbone but changed.");
            }
        }

        Assert.IsTrue(cached["fc.weight"].Zip(loaded["fc.weight"], (a, b) => Math.Abs(a - b)).Max() > 0, "The head must have learned for the comparison to mean anything.");
    }

    [TestMethod]
    public void Applies_FrozenBackbone_CachesEveryStage()
    {
        var (settings, model, feeder) = Setup(FreezeBackbone(Options()));
        using (model)
        {
            Assert.AreEqual(ResNetModel.StageModules.Count, settings.UnchangingStages);
            Assert.IsTrue(PrefixCache.Applies(model, settings, feeder.CountRows(CancellationToken.None), CPU));
            using var cache = PrefixCache.Build(model, null, feeder, settings, CPU, withFeatures: false, CancellationToken.None);
            var (output, _) = cache.ToTensors(cache.ReadEpoch(0, CancellationToken.None).First());
            Assert.AreEqual(512L, output.shape[1], "The cache holds layer4's output.");
            output.Dispose();
        }
    }

    [TestMethod]
    public void Build_FrozenBackboneWithoutShift_KeepsEachRowPooledAsTheHeadSeesIt()
    {
        // At 64x64 layer4's map is 2x2, so keeping it pooled is a real average; the head pools it again unchanged.
        var options = FreezeBackbone(Options());
        (options.ImageHeight, options.ImageWidth) = (64, 64);
        var (settings, model, feeder) = Setup(options, TrainingData.Synthetic(new MLContext(seed: 1), rows: 16, classes: Classes, size: 64));
        using (model)
        {
            using var cache = PrefixCache.Build(model, null, feeder, settings, CPU, withFeatures: false, CancellationToken.None);
            var batch = cache.ReadEpoch(0, CancellationToken.None).First();
            var (kept, _) = cache.ToTensors(batch);
            using var input = cat(feeder.ReadEpoch(0, train: false, CancellationToken.None).Select(b => b.ToTensors(64, 64, CPU).Input).ToList(), 0);
            model.eval();
            using var features = model.Features(input);
            using var expected = features.index_select(0, tensor(batch.Rows, ScalarType.Int64));

            CollectionAssert.AreEqual(new long[] { batch.Count, 512, 1, 1 }, kept.shape);
            Assert.AreEqual(ScalarType.Float32, kept.dtype);
            using var headSees = model.FeaturesFrom(kept, ResNetModel.StageModules.Count);
            Assert.IsTrue(allclose(expected, headSees, rtol: 1e-5, atol: 1e-6), $"Largest difference {(expected - headSees).abs().max().item<float>():G3}.");
            kept.Dispose();
        }
    }

    [TestMethod]
    public void ToTensors_MirroredRow_IsTheFrozenStagesOutputOfTheMirrorImage()
    {
        var (settings, model, feeder) = Setup(cropPadding: 0, flip: true);
        using (model)
        using (var cache = PrefixCache.Build(model, null, feeder, settings, CPU, withFeatures: false, CancellationToken.None))
        {
            cache.AddMirrorImages(model, null, feeder, CancellationToken.None);
            using var scope = NewDisposeScope();
            var image = FirstImage(feeder, settings);
            var expected = model.StagesOutput(image.flip(3), settings.FrozenStages);

            var (actual, _) = cache.ToTensors(new PrefixCache.CachedBatch([0], [true], [0], [0]));

            // The cache ran the mirror images as a batch, the expectation runs one image: oneDNN picks other kernels for the two
            // shapes and sums in another order (largest difference 1.57e-5 on an AVX2-only AMD EPYC of family 23); a wrong
            // mirror differs by whole activations.
            Assert.IsTrue(allclose(expected, actual, rtol: 1e-5, atol: 1e-4), $"Largest difference {(expected - actual).abs().max().item<float>():G3}.");
        }
    }

    /// <summary>Cell (y, x) of a shifted row is cell (y + dy, x + dx) of the unshifted one, zero where that leaves the map.</summary>
    [TestMethod]
    public void ToTensors_ShiftedRow_MovesTheOutputByWholeCellsWithZerosOutside()
    {
        var (settings, model, feeder) = Setup(cropPadding: 8, flip: false);
        using (model)
        using (var cache = PrefixCache.Build(model, null, feeder, settings, CPU, withFeatures: false, CancellationToken.None))
        {
            using var scope = NewDisposeScope();
            var (plain, _) = cache.ToTensors(new PrefixCache.CachedBatch([0], [false], [0], [0]));
            var (shifted, _) = cache.ToTensors(new PrefixCache.CachedBatch([0], [false], [1], [-2]));
            var height = plain.shape[2];
            var width = plain.shape[3];

            Assert.IsTrue(shifted[.., .., ..(int)(height - 1), 2..].eq(plain[.., .., 1.., ..(int)(width - 2)]).all().item<bool>(), "The moved cells differ.");
            Assert.AreEqual(0f, shifted[.., .., (int)(height - 1)].abs().max().item<float>(), "The row shifted in from below must be zeros.");
            Assert.AreEqual(0f, shifted[.., .., .., ..2].abs().max().item<float>(), "The columns shifted in from the left must be zeros.");
        }
    }

    /// <summary>
    /// The size rule's passes for large inputs (<see cref="FineTuningPasses"/>): four frozen stages, one epoch on the cached
    /// layer3 output of the committed Tux Paint photos. The head is fitted and layer4 fine-tunes; the stem and layer1 to
    /// layer3, weights and BatchNorm statistics alike, stay exactly as loaded.
    /// </summary>
    [TestMethod]
    public void Train_FourFrozenStagesOnRealPhotos_FineTunesLayer4AndKeepsTheRestAsLoaded()
    {
        const int size = 64;
        var options = Options();
        options.ImageHeight = size;
        options.ImageWidth = size;
        options.FrozenStages = Defaults.Trainer.MaxFrozenStages;
        options.BatchSize = 16;
        var data = TrainingData.LoadImages(new MLContext(seed: 1), Path.Combine(TestPaths.TuxPaintPhotos, "test"), size);
        var (settings, model, feeder) = Setup(options, data);
        using (model)
        {
            var loaded = Snapshot(model);
            Assert.IsTrue(PrefixCache.Applies(model, settings, feeder.CountRows(CancellationToken.None), CPU), "The recipe's run must train on the cached output.");

            var outcome = new ResNetTrainingLoop(settings, CPU, null).Train(model, feeder, null, CancellationToken.None);

            Assert.AreEqual(1, outcome.CompletedEpochs);
            var after = Snapshot(model);
            foreach (var key in loaded.Keys)
            {
                var largest = loaded[key].Zip(after[key], (a, b) => Math.Abs(a - b)).DefaultIfEmpty(0).Max();
                if ((key.StartsWith("layer4.", StringComparison.Ordinal) && key.EndsWith("weight", StringComparison.Ordinal)) || key.StartsWith("fc.", StringComparison.Ordinal))
                {
                    Assert.IsTrue(largest > 0, $"'{key}' did not learn.");
                }
                else if (!key.StartsWith("layer4.", StringComparison.Ordinal))
                {
                    Assert.AreEqual(0f, largest, $"'{key}' is in a frozen stage but changed.");
                }
            }
        }
    }

    private static Dictionary<string, float[]> TrainTwoSteps(bool? cache, out TrainingOutcome outcome, bool freezeBackbone = false)
    {
        var (settings, model, feeder) = Setup(cropPadding: 0, flip: false, freezeBackbone);
        using (model)
        {
            outcome = new ResNetTrainingLoop(settings with { CacheFrozenStages = cache }, CPU, null).Train(model, feeder, null, CancellationToken.None);
            return Snapshot(model);
        }
    }

    private static ResNetTrainerOptions Options()
    {
        var options = ResNetTrainingLoopTests.SmallOptions(epochs: 1);
        options.StartingWeights = ResNetStartingWeights.ImageNet;
        options.FrozenStages = 2;
        options.UseBFloat16 = false;
        options.CacheInMemory = true;
        return options;
    }

    private static (TrainingSettings Settings, ResNetModel Model, BatchFeeder Feeder) Setup(int cropPadding, bool flip, bool freezeBackbone = false)
    {
        var options = freezeBackbone ? FreezeBackbone(Options()) : Options();
        options.Crop = cropPadding > 0 ? ResNetCropAugmentation.RandomCropWithPadding : ResNetCropAugmentation.None;
        options.CropPadding = cropPadding > 0 ? cropPadding : null;
        options.HorizontalFlip = flip;
        return Setup(options);
    }

    /// <summary>The options with the whole backbone frozen instead of some stages.</summary>
    private static ResNetTrainerOptions FreezeBackbone(ResNetTrainerOptions options)
    {
        options.FrozenStages = null;
        options.FreezeBackbone = true;
        return options;
    }

    private static (TrainingSettings Settings, ResNetModel Model, BatchFeeder Feeder) Setup(ResNetTrainerOptions options) =>
        Setup(options, TrainingData.Synthetic(new MLContext(seed: 1), rows: 16, classes: Classes, size: 32));

    private static (TrainingSettings Settings, ResNetModel Model, BatchFeeder Feeder) Setup(ResNetTrainerOptions options, IDataView data)
    {
        using var start = PretrainedStart.Open(options)!;
        var settings = start.ApplyTo(TrainerOptionsResolver.Resolve(options, seed: 5));
        var model = new ResNetModel(new ResNetSpec(settings.Architecture, Classes, StageDepths: settings.StageDepths));
        start.LoadInto(model);
        return (settings, model, new BatchFeeder(data, TrainingData.Features, TrainingData.Label, settings, DataSplit.All));
    }

    private static Dictionary<string, float[]> Loaded()
    {
        var (_, model, _) = Setup(Options());
        using (model)
        {
            return Snapshot(model);
        }
    }

    private static Tensor FirstImage(BatchFeeder feeder, TrainingSettings settings)
    {
        var batch = feeder.ReadEpoch(0, train: false, CancellationToken.None).First();
        var (input, _) = batch.ToTensors(settings.ImageHeight, settings.ImageWidth, CPU);
        return input[..1].clone();
    }

    private static Dictionary<string, float[]> Snapshot(ResNetModel model) =>
        model.state_dict().ToDictionary(e => e.Key, e => e.Value.to_type(ScalarType.Float32).data<float>().ToArray());
}
