using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Training;

/// <summary>
/// Trains a <see cref="ResNetModel"/> in place: epochs of shuffled, augmented batches, the optimizer and
/// schedule of <see cref="TrainingSettings"/>, label-smoothed cross-entropy, a divergence check every
/// step, validation and early stopping (best weights restored), epoch checkpoints, cancellation and
/// progress reports.
/// </summary>
internal sealed class ResNetTrainingLoop
{
    private readonly TrainingSettings _settings;
    private readonly Device _device;
    private readonly Action<ResNetTrainingProgress>? _progress;
    private readonly double[] _groupRateFactors;

    public ResNetTrainingLoop(TrainingSettings settings, Device device, Action<ResNetTrainingProgress>? progress)
    {
        _settings = settings;
        _device = device;
        _progress = progress;

        // The optimizer's parameter groups (see CreateOptimizer): the backbone, then fc, when the backbone learns slower.
        _groupRateFactors = !settings.FreezeBackbone && settings.BackboneLearningRateFactor != 1 ? [settings.BackboneLearningRateFactor, 1] : [1];
    }

    /// <summary>Trains; the model ends with the final weights, or the best ones when early stopping is on.</summary>
    /// <exception cref="OperationCanceledException">Cancelled; the last checkpoint stays as it was.</exception>
    /// <exception cref="InvalidOperationException">The loss became NaN or infinite, the data is empty, or a checkpoint does not match.</exception>
    public TrainingOutcome Train(ResNetModel model, BatchFeeder training, BatchFeeder? validation, CancellationToken cancellation)
    {
        TorchNativeLoader.EnsureLoaded();
        var threadsBefore = torch.get_num_threads();
        if (_settings.Threads is { } threads)
        {
            torch.set_num_threads(threads);
        }

        try
        {
            return TrainWithThreads(model, training, validation, cancellation);
        }
        finally
        {
            // The thread count is process-wide: the next run (or the user's own libtorch code) gets what it had.
            if (_settings.Threads is not null)
            {
                torch.set_num_threads(threadsBefore);
            }
        }
    }

    private TrainingOutcome TrainWithThreads(ResNetModel model, BatchFeeder training, BatchFeeder? validation, CancellationToken cancellation)
    {
        var trainingRows = training.CountRows(cancellation);
        if (trainingRows < 2)
        {
            throw new InvalidOperationException(
                $"Training needs at least 2 labelled rows; the training data has {trainingRows} (rows with a missing label are skipped{(_settings.ValidationFraction > 0 ? ", and a validation fraction is held out" : string.Empty)}).");
        }

        if (_settings.TrainInBFloat16 && _device.type == DeviceType.CPU && !CpuFeatures.HasNativeBFloat16)
        {
            throw new InvalidOperationException(
                $"TrainInBFloat16 needs a CPU that computes bfloat16 natively (AVX512-BF16 or AMX); this one ({CpuFeatures.ModelName}) has neither, so bfloat16 would be emulated and slower than float32. Train without it.");
        }

        var stepsPerEpoch = (int)(trainingRows / _settings.BatchSize) + (trainingRows % _settings.BatchSize > 1 ? 1 : 0);

        model.to(_device);
        using var optimizer = CreateOptimizer(model);
        var store = _settings.CheckpointFolder is { } folder ? new CheckpointStore(folder, _settings.Fingerprint(), _settings.Seed, _settings.Epochs) : null;
        var checkpoint = store?.TryRead();
        Dictionary<string, Tensor>? best = null;
        double? bestMetric = null;
        var bestEpoch = 0;
        var withoutImprovement = 0;
        var stoppedEarly = false;
        var startEpoch = 0;
        var (scheduleStart, scheduleEnd) = (0, _settings.Epochs);
        if (checkpoint is not null)
        {
            if (checkpoint.BestFile is not null)
            {
                model.load(store!.PathOf(checkpoint.BestFile));
                best = Snapshot(model);
            }

            store!.Restore(checkpoint, model, optimizer);
            (startEpoch, bestMetric, bestEpoch, withoutImprovement, stoppedEarly) =
                (checkpoint.CompletedEpochs, checkpoint.BestMetric, checkpoint.BestEpoch, checkpoint.EpochsWithoutImprovement, checkpoint.StoppedEarly);

            // The same epoch count continues the checkpoint's schedule, so an interrupted run resumes bit for bit.
            // Another count ("5 more epochs") starts a new span over the epochs left: warm-up and anneal again, as
            // fastai's fit_one_cycle does when called again. Stretching the old schedule over the new total would
            // jump the rate from its annealed minimum back near the peak with no warm-up; keeping the final rate
            // (about 0 for one-cycle and cosine) would train the added epochs at nothing. The new span depends only
            // on the checkpoint and the new count, so it is as deterministic as a fresh run, and the checkpoint
            // records it, so a second interruption resumes inside it.
            (scheduleStart, scheduleEnd) = checkpoint.ScheduleEndEpoch == _settings.Epochs
                ? (checkpoint.ScheduleStartEpoch, checkpoint.ScheduleEndEpoch)
                : (checkpoint.CompletedEpochs, _settings.Epochs);
        }

        using var bfloat16 = UsesBFloat16() ? BFloat16Backbone.Of(model, _device) : null;
        var fitHead = checkpoint is null && _settings.FitHeadFirst;
        using var cache = PrefixCache.Applies(model, _settings, trainingRows, _device)
            ? PrefixCache.Build(model, bfloat16, training, _settings, _device, withFeatures: fitHead, cancellation)
            : null;
        if (fitHead)
        {
            if (cache is null)
            {
                LinearProbe.FitHead(model, training, _settings, _device, bfloat16, cancellation);
            }
            else
            {
                LinearProbe.FitHead(model, cache.Features!, cache.Targets, _settings, _device, cancellation);
            }
        }

        if (!stoppedEarly && startEpoch < _settings.Epochs)
        {
            cache?.AddMirrorImages(model, bfloat16, training, cancellation);
        }

        using var trainingCopy = _settings.TrainInBFloat16 ? TrainingCopy.Of(model, _device, ScalarType.BFloat16) : null;
        var schedule = new LearningRateSchedule(_settings, stepsPerEpoch, scheduleStart, scheduleEnd);
        var history = new List<EpochSummary>();
        try
        {
            for (var epoch = startEpoch; epoch < _settings.Epochs && !stoppedEarly; epoch++)
            {
                var summary = TrainEpoch(model, bfloat16, trainingCopy, optimizer, Batches(training, cache, epoch, cancellation), cache is not null, schedule, epoch, stepsPerEpoch);
                double? validationAccuracy = null;
                double? validationLoss = null;
                if (validation is not null)
                {
                    (validationAccuracy, validationLoss) = Evaluate(model, validation, cancellation);
                    summary = summary with { ValidationAccuracy = validationAccuracy, ValidationLoss = validationLoss };
                }

                var improved = false;
                if (validation is not null && _settings.EarlyStoppingPatience is { } patience)
                {
                    var metric = _settings.EarlyStoppingMetric == ResNetEarlyStoppingMetric.ValidationAccuracy ? validationAccuracy!.Value : validationLoss!.Value;
                    improved = bestMetric is null || (_settings.EarlyStoppingMetric == ResNetEarlyStoppingMetric.ValidationAccuracy ? metric > bestMetric : metric < bestMetric);
                    if (improved)
                    {
                        (bestMetric, bestEpoch, withoutImprovement) = (metric, epoch + 1, 0);
                        Dispose(best);
                        best = Snapshot(model);
                    }
                    else if (++withoutImprovement >= patience && epoch + 1 < _settings.Epochs)
                    {
                        stoppedEarly = true;
                    }
                }

                cancellation.ThrowIfCancellationRequested();
                checkpoint = store?.Write(model, optimizer, checkpoint, epoch + 1, improved, bestMetric, bestEpoch, withoutImprovement, stoppedEarly, scheduleStart, scheduleEnd);
                history.Add(summary);
                Report(summary, epoch, stepsPerEpoch, stepsPerEpoch, schedule.At(((long)epoch + 1) * stepsPerEpoch - 1), isEpochEnd: true, remainingSteps: (long)(_settings.Epochs - epoch - 1) * stepsPerEpoch);
            }

            if (best is not null)
            {
                Restore(model, best);
            }

            return new TrainingOutcome(Math.Min(_settings.Epochs, checkpoint?.CompletedEpochs ?? startEpoch + history.Count), bestEpoch, bestMetric, stoppedEarly, history);
        }
        finally
        {
            Dispose(best);
        }
    }

    /// <summary>
    /// One parameter group, or two when the backbone learns at a fraction of the head's rate: the backbone's first, then
    /// fc's, as <see cref="_groupRateFactors"/> lists each group's share of the scheduled rate.
    /// </summary>
    private OptimizerHelper CreateOptimizer(ResNetModel model)
    {
        var named = model.named_parameters().ToList();
        foreach (var (name, parameter) in named)
        {
            parameter.requires_grad = _settings.FreezeBackbone ? IsHead(name) : !IsFrozen(name);
        }

        var learning = named.Where(p => p.parameter.requires_grad).ToList();
        var head = learning.Where(p => IsHead(p.name)).Select(p => p.parameter).ToList();
        var groups = _settings.FreezeBackbone ? [head]
            : _groupRateFactors.Length == 1 ? [learning.Select(p => p.parameter).ToList()]
            : new List<List<Parameter>> { learning.Where(p => !IsHead(p.name)).Select(p => p.parameter).ToList(), head };
        var nesterov = _settings.Nesterov && _settings.Momentum > 0;
        return _settings.Optimizer switch
        {
            ResNetOptimizer.AdamW => new InPlaceAdamW(
                groups.Select(g => new AdamW.ParamGroup(g, _settings.LearningRate, weight_decay: _settings.WeightDecay)),
                _settings.LearningRate,
                _settings.WeightDecay),
            _ => new InPlaceSgd(
                groups.Select(g => new SGD.ParamGroup(g, _settings.LearningRate, _settings.Momentum, weight_decay: _settings.WeightDecay, nesterov: nesterov)),
                _settings.LearningRate,
                _settings.Momentum,
                _settings.WeightDecay,
                nesterov),
        };
    }

    private static bool IsHead(string parameterName) => parameterName.StartsWith("fc.", StringComparison.Ordinal);

    /// <summary>Whether the parameter or child module belongs to one of the <see cref="TrainingSettings.FrozenStages"/>.</summary>
    private bool IsFrozen(string name) =>
        ResNetModel.StageModules.Take(_settings.FrozenStages).Any(stage => stage.Any(module => name == module || name.StartsWith(module + ".", StringComparison.Ordinal)));

    /// <summary>Only fc learns in this epoch: always with a frozen backbone, and during head warm-up.</summary>
    private bool HeadOnly(int epoch) => _settings.FreezeBackbone || epoch < _settings.HeadWarmupEpochs;

    private EpochSummary TrainEpoch(ResNetModel model, BFloat16Backbone? bfloat16, TrainingCopy? trainingCopy, OptimizerHelper optimizer, IEnumerable<Func<(Tensor Input, Tensor Target)>> batches, bool cached, LearningRateSchedule schedule, int epoch, int stepsPerEpoch)
    {
        var headOnly = HeadOnly(epoch);
        SetTrainingMode(model, headOnly);

        // Head-only epochs train fc alone on float32 features, a step too small to gain from bfloat16.
        var copy = headOnly ? null : trainingCopy;
        var network = copy?.Network ?? model;
        if (copy is not null)
        {
            SetTrainingMode(copy.Network, headOnly);
        }

        var total = Stopwatch.StartNew();
        var waiting = new Stopwatch();
        double lossSum = 0;
        long correct = 0;
        long seen = 0;
        var step = 0;
        var learningRate = 0.0;
        waiting.Start();
        foreach (var makeBatch in batches)
        {
            using var scope = NewDisposeScope();
            var (input, target) = makeBatch();
            var count = (int)target.shape[0];
            waiting.Stop();

            learningRate = schedule.At((long)epoch * stepsPerEpoch + step);
            var groupIndex = 0;
            foreach (var group in optimizer.ParamGroups)
            {
                group.LearningRate = learningRate * _groupRateFactors[groupIndex++];
            }

            copy?.PullWeights();
            var logits = cached
                ? ForwardFromCache(network, copy?.ToInput(input) ?? input, headOnly)
                : Forward(network, bfloat16, input, headOnly, copy);
            if (copy is not null)
            {
                logits = logits.to(ScalarType.Float32);
            }

            var loss = nn.functional.cross_entropy(logits, target, label_smoothing: _settings.LabelSmoothing);
            var lossValue = loss.item<float>();
            if (!float.IsFinite(lossValue))
            {
                throw new InvalidOperationException(string.Create(
                    CultureInfo.InvariantCulture,
                    $"Training diverged: the loss is {lossValue} at epoch {epoch + 1}, step {step + 1} (learning rate {learningRate:G6}). Lower the learning rate, add warm-up, or check the input for NaN pixels. The last checkpoint (if any) is unchanged."));
            }

            optimizer.zero_grad();
            copy?.ZeroGradients();
            loss.backward();
            copy?.PushGradients();
            optimizer.step();

            lossSum += lossValue * count;
            correct += logits.argmax(1).eq(target).sum().item<long>();
            seen += count;
            step++;
            var partial = new EpochSummary(epoch + 1, lossSum / seen, (double)correct / seen, null, null, seen / total.Elapsed.TotalSeconds, waiting.Elapsed / total.Elapsed);
            if (_progress is not null && step % _settings.ProgressInterval == 0 && step < stepsPerEpoch)
            {
                Report(partial, epoch, step, stepsPerEpoch, learningRate, isEpochEnd: false, remainingSteps: (long)(_settings.Epochs - epoch) * stepsPerEpoch - step);
            }

            waiting.Start();
        }

        waiting.Stop();
        return new EpochSummary(epoch + 1, lossSum / Math.Max(1, seen), (double)correct / Math.Max(1, seen), null, null, seen / total.Elapsed.TotalSeconds, waiting.Elapsed / total.Elapsed);
    }

    // copy: the training copy that model is the network of (its input goes through copy.ToInput), or null.
    private Tensor Forward(ResNetModel model, BFloat16Backbone? bfloat16, Tensor input, bool headOnly, TrainingCopy? copy)
    {
        if (!headOnly)
        {
            Tensor Prepare(Tensor x) => copy?.ToInput(x) ?? x;
            return bfloat16 is null || _settings.FrozenStages == 0
                ? model.fc.call(model.Features(Prepare(input), _settings.FrozenStages))
                : model.fc.call(model.FeaturesFrom(Prepare(bfloat16.StagesOutput(input, _settings.FrozenStages)), _settings.FrozenStages));
        }

        // A frozen backbone needs no graph: only fc learns, which also makes the step much cheaper.
        Tensor features;
        using (no_grad())
        {
            features = bfloat16?.Features(input) ?? model.Features(input);
        }

        return model.fc.call(features);
    }

    /// <summary>
    /// The epoch's batches as tensors made on demand, inside the step's dispose scope: from the frozen stages' cached
    /// output when there is a cache, else the feeder's augmented pixels.
    /// </summary>
    private IEnumerable<Func<(Tensor Input, Tensor Target)>> Batches(BatchFeeder training, PrefixCache? cache, int epoch, CancellationToken cancellation)
    {
        if (cache is not null)
        {
            foreach (var batch in cache.ReadEpoch(epoch, cancellation))
            {
                yield return () => cache.ToTensors(batch);
            }

            yield break;
        }

        foreach (var batch in training.ReadEpoch(epoch, train: true, cancellation))
        {
            cancellation.ThrowIfCancellationRequested();
            yield return () => batch.ToTensors(_settings.ImageHeight, _settings.ImageWidth, _device);
        }
    }

    /// <summary>The logits from the frozen stages' cached output: only the learning stages and the head run.</summary>
    private Tensor ForwardFromCache(ResNetModel model, Tensor stagesOutput, bool headOnly)
    {
        if (!headOnly)
        {
            return model.fc.call(model.FeaturesFrom(stagesOutput, _settings.UnchangingStages));
        }

        Tensor features;
        using (no_grad())
        {
            features = model.FeaturesFrom(stagesOutput, _settings.UnchangingStages);
        }

        return model.fc.call(features);
    }

    /// <summary>
    /// The passes that run on unchanging weights (frozen stages, a frozen backbone, the head's feature pass) go through a
    /// bfloat16 copy when asked, or by default on a CPU that computes bfloat16 natively; only they, so a run with every stage
    /// learning gains nothing from it and makes no copy.
    /// </summary>
    private bool UsesBFloat16()
    {
        var frozenPasses = _settings.FrozenStages > 0 || _settings.FreezeBackbone || _settings.HeadWarmupEpochs > 0 || _settings.FitHeadFirst;
        return frozenPasses && (_settings.UseBFloat16 ?? (_device.type == DeviceType.CPU && CpuFeatures.HasNativeBFloat16));
    }

    /// <summary>Train mode, except that frozen modules keep their BatchNorm statistics (eval mode): the whole backbone
    /// while only the head learns, else the frozen stages, and every BatchNorm layer when its statistics are frozen.</summary>
    private void SetTrainingMode(ResNetModel model, bool headOnly)
    {
        model.train();
        foreach (var (name, child) in model.named_children())
        {
            if (headOnly ? name != "fc" : IsFrozen(name))
            {
                child.eval();
            }
        }

        if (_settings.FreezeBatchNormStatistics)
        {
            foreach (var batchNorm in model.modules().OfType<BatchNorm2d>())
            {
                batchNorm.eval();
            }
        }
    }

    /// <summary>Top-1 accuracy and mean cross-entropy (no smoothing) in eval mode.</summary>
    internal (double Accuracy, double Loss) Evaluate(ResNetModel model, BatchFeeder data, CancellationToken cancellation)
    {
        model.eval();
        double lossSum = 0;
        long correct = 0;
        long seen = 0;
        using (no_grad())
        {
            foreach (var batch in data.ReadEpoch(0, train: false, cancellation))
            {
                using var scope = NewDisposeScope();
                var (input, target) = batch.ToTensors(_settings.ImageHeight, _settings.ImageWidth, _device);
                var logits = model.call(input);
                lossSum += nn.functional.cross_entropy(logits, target, reduction: nn.Reduction.Sum).item<float>();
                correct += logits.argmax(1).eq(target).sum().item<long>();
                seen += batch.Count;
            }
        }

        if (seen == 0)
        {
            throw new InvalidOperationException("The validation data has no labelled rows.");
        }

        return ((double)correct / seen, lossSum / seen);
    }

    private void Report(EpochSummary summary, int epoch, int step, int stepsPerEpoch, double learningRate, bool isEpochEnd, long remainingSteps)
    {
        if (_progress is null)
        {
            return;
        }

        var secondsPerStep = summary.ImagesPerSecond > 0 ? _settings.BatchSize / summary.ImagesPerSecond : 0;
        _progress(new ResNetTrainingProgress(
            epoch + 1,
            _settings.Epochs,
            step,
            stepsPerEpoch,
            summary.Loss,
            summary.TrainAccuracy,
            summary.ValidationAccuracy,
            summary.ValidationLoss,
            learningRate,
            summary.ImagesPerSecond,
            TimeSpan.FromSeconds(Math.Max(0, remainingSteps) * secondsPerStep),
            summary.DataWaitFraction,
            isEpochEnd));
    }

    private static Dictionary<string, Tensor> Snapshot(nn.Module model)
    {
        using var noGrad = no_grad();
        return model.state_dict().ToDictionary(entry => entry.Key, entry => entry.Value.detach().clone().DetachFromDisposeScope());
    }

    private static void Restore(nn.Module model, Dictionary<string, Tensor> weights)
    {
        using var noGrad = no_grad();
        foreach (var (name, value) in model.state_dict())
        {
            value.copy_(weights[name]);
        }
    }

    private static void Dispose(Dictionary<string, Tensor>? weights)
    {
        if (weights is null)
        {
            return;
        }

        foreach (var value in weights.Values)
        {
            value.Dispose();
        }
    }
}
