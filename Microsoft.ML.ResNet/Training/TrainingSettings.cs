using Microsoft.ML.ResNet.Modeling;

namespace Microsoft.ML.ResNet.Training;

/// <summary>
/// Every resolved, validated knob of one training run: what the catalog's options become once
/// defaults and the MLContext are applied. The training core sees only this, never ML.NET options.
/// It has no defaults of its own: <see cref="TrainerOptionsResolver.Resolve"/> fills every knob from the public
/// options, so code that needs settings (tests, benchmarks) starts from the public API's recipe.
/// </summary>
internal sealed record TrainingSettings
{
    public ResNetArchitecture Architecture { get; init; }

    public ResNetVariant Variant { get; init; }

    /// <summary>Blocks per stage overriding the architecture's own; null = the architecture's.</summary>
    public int[]? StageDepths { get; init; }

    public int ImageHeight { get; init; }

    public int ImageWidth { get; init; }

    public int Epochs { get; init; }

    public int BatchSize { get; init; }

    public ResNetOptimizer Optimizer { get; init; }

    public double LearningRate { get; init; }

    public double Momentum { get; init; }

    public bool Nesterov { get; init; }

    public double WeightDecay { get; init; }

    public ResNetLearningRateSchedule Schedule { get; init; }

    /// <summary>Fraction of all steps spent warming up (one-cycle and cosine schedules).</summary>
    public double WarmupFraction { get; init; }

    /// <summary>Epochs between drops of the step schedule; null = a third of the schedule's span (see <see cref="LearningRateSchedule"/>).</summary>
    public int? StepSizeEpochs { get; init; }

    public double StepFactor { get; init; }

    public double LabelSmoothing { get; init; }

    public ResNetCropAugmentation Crop { get; init; }

    public int CropPadding { get; init; }

    public double RandomResizedCropMinScale { get; init; }

    public bool HorizontalFlip { get; init; }

    /// <summary>Per-channel RGB normalization applied to the 0..1 pixels; the ONNX export bakes in the same.</summary>
    public required float[] Mean { get; init; }

    public required float[] Std { get; init; }

    /// <summary>Share of the training rows held out for validation when no validation set is given; 0 = none.</summary>
    public double ValidationFraction { get; init; }

    /// <summary>Epochs without improvement before stopping; null = never stop early.</summary>
    public int? EarlyStoppingPatience { get; init; }

    public ResNetEarlyStoppingMetric EarlyStoppingMetric { get; init; }

    public int Seed { get; init; }

    public bool FreezeBackbone { get; init; }

    /// <summary>Fit the fresh head to the frozen network's features before the first epoch (see <see cref="LinearProbe"/>).</summary>
    public bool FitHeadFirst { get; init; }

    /// <summary>Stages from the input (1 = the stem, 2 = the stem and layer1, ...) kept as loaded: no gradient, BatchNorm statistics fixed.</summary>
    public int FrozenStages { get; init; }

    /// <summary>The stages from the input whose weights no epoch changes: all of them with a frozen backbone, else the
    /// frozen stages. What <see cref="PrefixCache"/> computes once.</summary>
    public int UnchangingStages => FreezeBackbone ? ResNetModel.StageModules.Count : FrozenStages;

    /// <summary>Every BatchNorm layer normalizes with the loaded running statistics and keeps them (eval mode); scale and shift still learn.</summary>
    public bool FreezeBatchNormStatistics { get; init; }

    /// <summary>Head-only epochs at the start (backbone frozen in eval mode), before end-to-end fine-tuning.</summary>
    public int HeadWarmupEpochs { get; init; }

    /// <summary>Run the passes on unchanging weights in bfloat16 (<see cref="BFloat16Backbone"/>); null means where the CPU computes it natively.</summary>
    public bool? UseBFloat16 { get; init; }

    /// <summary>Run the learning stages' passes in bfloat16 on a copy of the network (<see cref="TrainingCopy"/>).</summary>
    public bool TrainInBFloat16 { get; init; }

    /// <summary>
    /// Train the learning stages on the frozen stages' output computed once (<see cref="PrefixCache"/>) instead of running
    /// the frozen stages every step; null means whenever it applies and fits <see cref="PrefixCache.MaxBytes"/>.
    /// </summary>
    public bool? CacheFrozenStages { get; init; }

    /// <summary>The backbone's learning rate as a fraction of the head's.</summary>
    public double BackboneLearningRateFactor { get; init; }

    public string? CheckpointFolder { get; init; }

    public bool CacheInMemory { get; init; }

    /// <summary>Rows held in the streaming shuffle pool; ignored with <see cref="CacheInMemory"/> (full shuffle).</summary>
    public int ShufflePoolRows { get; init; }

    /// <summary>Batches prepared ahead by the background producer.</summary>
    public int PrefetchBatches { get; init; }

    /// <summary>Steps between progress reports (every epoch end is reported too).</summary>
    public int ProgressInterval { get; init; }

    /// <summary>libtorch intra-op threads; null = libtorch's default (one per core).</summary>
    public int? Threads { get; init; }

    public int RowSize => 3 * ImageHeight * ImageWidth;

    /// <summary>
    /// What a checkpoint must agree with to be resumed: everything that changes the weights a run
    /// produces, except the two a resumed run may take from the checkpoint or change. <see cref="Seed"/>
    /// is stored in the checkpoint (a run without an explicit seed reuses it) and <see cref="Epochs"/> may
    /// grow (see <see cref="CheckpointStore"/>). Progress reporting, threads and the folder itself do not count.
    /// </summary>
    public string Fingerprint() => string.Join('|', FormattableString.Invariant($"{Architecture}|{Variant}|{(StageDepths is null ? "default" : string.Join('/', StageDepths))}|{ImageHeight}x{ImageWidth}|{BatchSize}|{Optimizer}|{LearningRate}|{Momentum}|{Nesterov}|{WeightDecay}|{Schedule}|{WarmupFraction}|{StepSizeEpochs}|{StepFactor}|{LabelSmoothing}|{Crop}|{CropPadding}|{RandomResizedCropMinScale}|{HorizontalFlip}|{ValidationFraction}|{EarlyStoppingPatience}|{EarlyStoppingMetric}|{FreezeBackbone}|{FitHeadFirst}|{FrozenStages}|{FreezeBatchNormStatistics}|{HeadWarmupEpochs}|{BackboneLearningRateFactor}|{CacheInMemory}|{ShufflePoolRows}|{CacheFrozenStages}|{TrainInBFloat16}"), string.Join(',', Mean), string.Join(',', Std));
}
