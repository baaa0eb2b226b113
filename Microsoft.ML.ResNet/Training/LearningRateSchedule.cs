namespace Microsoft.ML.ResNet.Training;

/// <summary>
/// The learning rate at every step of a run, from the schedule in <see cref="TrainingSettings"/>. The schedule spans
/// the epochs <c>startEpoch</c> to <c>endEpoch</c> (a fresh run: 0 to <see cref="TrainingSettings.Epochs"/>; a resumed
/// run that was given more or fewer epochs: a new span from its last finished epoch, see <see cref="ResNetTrainingLoop"/>).
/// Head warm-up epochs (global epochs below <see cref="TrainingSettings.HeadWarmupEpochs"/>) come first with a cosine
/// decay of their own from the peak rate; the configured schedule spans the epochs after them.
/// </summary>
internal sealed class LearningRateSchedule
{
    // PyTorch OneCycleLR's defaults, so runs compare with the Python reference.
    private const double OneCycleDivFactor = 25;
    private const double OneCycleFinalDivFactor = 1e4;

    private readonly TrainingSettings _settings;
    private readonly int _stepsPerEpoch;
    private readonly long _headWarmupSteps;
    private readonly long _totalSteps;
    private readonly long _firstStep;
    private readonly int _stepSizeEpochs;

    public LearningRateSchedule(TrainingSettings settings, int stepsPerEpoch)
        : this(settings, stepsPerEpoch, 0, settings.Epochs)
    {
    }

    public LearningRateSchedule(TrainingSettings settings, int stepsPerEpoch, int startEpoch, int endEpoch)
    {
        _settings = settings;
        _stepsPerEpoch = Math.Max(1, stepsPerEpoch);
        var headWarmupEnd = Math.Min(settings.HeadWarmupEpochs, endEpoch);
        _headWarmupSteps = (long)_stepsPerEpoch * headWarmupEnd;
        var spanStart = Math.Max(startEpoch, headWarmupEnd);
        var span = Math.Max(1, endEpoch - spanStart);
        _firstStep = (long)_stepsPerEpoch * spanStart;
        _totalSteps = (long)_stepsPerEpoch * span;
        _stepSizeEpochs = settings.StepSizeEpochs ?? Math.Max(1, span / 3);
    }

    /// <summary>The rate for the 0-based global step (epoch * stepsPerEpoch + step), at or after the span's first step.</summary>
    public double At(long globalStep)
    {
        var peak = _settings.LearningRate;
        if (globalStep < _headWarmupSteps)
        {
            // The fresh head learns fast on fixed features, then settles before the backbone starts moving.
            return Cosine(peak, peak / OneCycleDivFactor, (double)globalStep / _headWarmupSteps);
        }

        var step = Math.Max(0, globalStep - _firstStep);
        var last = Math.Max(1, _totalSteps - 1);
        switch (_settings.Schedule)
        {
            case ResNetLearningRateSchedule.OneCycle:
            {
                var initial = peak / OneCycleDivFactor;
                var final = initial / OneCycleFinalDivFactor;
                var warmupEnd = Math.Max(1, _settings.WarmupFraction * _totalSteps - 1);
                return step <= warmupEnd
                    ? Cosine(initial, peak, step / warmupEnd)
                    : Cosine(peak, final, Math.Min(1, (step - warmupEnd) / Math.Max(1, last - warmupEnd)));
            }

            case ResNetLearningRateSchedule.CosineWithWarmup:
            {
                var warmupSteps = (long)Math.Round(_settings.WarmupFraction * _totalSteps);
                if (step < warmupSteps)
                {
                    return peak * (step + 1) / warmupSteps;
                }

                return Cosine(peak, 0, Math.Min(1, (double)(step - warmupSteps) / Math.Max(1, _totalSteps - warmupSteps)));
            }

            case ResNetLearningRateSchedule.Step:
                return peak * Math.Pow(_settings.StepFactor, step / _stepsPerEpoch / _stepSizeEpochs);

            default:
                return peak;
        }
    }

    /// <summary>Cosine interpolation from <paramref name="start"/> (progress 0) to <paramref name="end"/> (progress 1).</summary>
    private static double Cosine(double start, double end, double progress) =>
        end + (start - end) / 2 * (1 + Math.Cos(Math.PI * progress));
}
