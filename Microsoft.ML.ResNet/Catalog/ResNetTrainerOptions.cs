using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Catalog;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Training;

namespace Microsoft.ML.ResNet;

/// <summary>
/// Everything about training a ResNet classifier with
/// <see cref="ResNetTrainerCatalog.ResNet(MulticlassClassificationCatalog.MulticlassClassificationTrainers, ResNetTrainerOptions)"/>.
/// Every property has a working default; <c>Fit</c> checks them all before reading any data.
/// </summary>
/// <example>See samples/apps/train.cs (from random weights and from ImageNet weights) and samples/ImageClassification/Model/TrainSettings.cs.</example>
public sealed class ResNetTrainerOptions
{
    /// <summary>The key-typed label column (e.g. from MapValueToKey); its key values become the class labels. Default "Label".</summary>
    public string LabelColumnName { get; set; } = Defaults.Trainer.LabelColumnName;

    /// <summary>The pixel column: Vector&lt;Single, 3 x <see cref="ImageHeight"/> x <see cref="ImageWidth"/>&gt; of RGB planes in 0..1,
    /// as ExtractPixels(scaleImage: 1f / 255) makes it. Default "Features", as every ML.NET trainer's; the returned model reads
    /// the same column (<see cref="ResNetClassifierOptions.FeatureColumnName"/> has the same name and default).</summary>
    /// <remarks>A row with a NaN or infinite pixel is refused (the error names the row, the column, the pixel index and
    /// value). An all-black row trains as it is, unless one of the row's text columns is empty: LoadImages makes an empty
    /// image path into an all-black image, so that row is refused naming the row and the column. A pipeline that feeds raw
    /// pixels without a path column cannot tell a missing image from a black one: filter rows with no image before the
    /// trainer (e.g. <c>mlContext.Data.FilterByCustomPredicate</c> on the path), or keep the path column in the data so the
    /// trainer can check it.</remarks>
    public string FeatureColumnName { get; set; } = Defaults.FeatureColumnName;

    /// <summary>The returned model's probabilities column: Vector&lt;Single, K&gt; with the labels as slot names and ML.NET's
    /// multiclass score annotations. Default "Score".</summary>
    public string ScoreColumnName { get; set; } = Defaults.ScoreColumnName;

    /// <summary>The returned model's predicted label: Key&lt;UInt32, K&gt; whose key values are the labels. Default "PredictedLabel".</summary>
    public string PredictedLabelColumnName { get; set; } = Defaults.PredictedLabelColumnName;

    /// <summary>The returned model's pooled embedding (Vector&lt;Single, F&gt;, e.g. 512 for ResNet-34), to feed other ML.NET
    /// trainers. Default "Embedding"; null leaves the column out (the exported ONNX keeps its features output either way).</summary>
    public string? EmbeddingColumnName { get; set; } = Defaults.EmbeddingColumnName;

    /// <summary>The network. Default ResNet-34.</summary>
    public ResNetArchitecture Architecture { get; set; } = ResNetArchitecture.ResNet34;

    /// <summary>
    /// Blocks in each of the four stages, overriding <see cref="Architecture"/>'s own (which still decides basic or
    /// bottleneck blocks): e.g. [2, 2, 2, 3] with ResNet18 is the ImageNet network of ML.NET's
    /// Microsoft.ML.DnnImageFeaturizer.ResNet18 package. Four entries, each 1 or more. Default null: the architecture's own.
    /// </summary>
    public int[]? StageDepths { get; set; }

    /// <summary>
    /// The wiring: <see cref="ResNetVariant.TorchVision"/> (torchvision's), or <see cref="ResNetVariant.ProjectionShortcuts"/>
    /// (the seed project's ResNet: a 1x1 projection shortcut on the first block of every stage and a fixed 7x7 average pool,
    /// so <see cref="ImageHeight"/> and <see cref="ImageWidth"/> must be 224). Default null: torchvision's, or the wiring the
    /// <see cref="PretrainedWeightsPath"/> file records (safetensors we wrote, a state dict with the seed's keys, ONNX); a value
    /// that differs from the file's is an error.
    /// </summary>
    public ResNetVariant? Variant { get; set; }

    /// <summary>Image height the pixel column was resized to, at least 32. Default 224.</summary>
    public int ImageHeight { get; set; } = Defaults.ImageSize;

    /// <summary>Image width the pixel column was resized to, at least 32. Default 224.</summary>
    public int ImageWidth { get; set; } = Defaults.ImageSize;

    /// <summary>
    /// Passes over the training data, 1 or more. Null (the default) means 10, except when fine-tuning ImageNet weights
    /// (<see cref="StartingWeights"/> = <see cref="ResNetStartingWeights.ImageNet"/>, without <see cref="FreezeBackbone"/>),
    /// where the input size chooses them: 3 at 112x112 and below, fewer in proportion to the area above (2 at 128x128,
    /// 1 from 144x144 to 192x192), and 1 where not even one epoch of the default <see cref="FrozenStages"/>' learning stages
    /// fits that budget (an area above 3 x 112 x 112: 208x208, 224x224), with <see cref="FrozenStages"/> then 4 unless set.
    /// With <see cref="FrozenStages"/> set, the same rule by area, but at least 1 epoch. The budget holds the learning passes near the cost of 3 epochs at 112x112 (an epoch's arithmetic grows with the
    /// area); measured against ML.NET's DnnFeaturizeImage in the README's transfer benchmark. <see cref="ResolvedEpochs"/>
    /// says what <c>Fit</c> will use.
    /// </summary>
    public int? Epochs { get; set; }

    /// <summary>The epochs <c>Fit</c> trains for with these options: <see cref="Epochs"/> when set, otherwise its default
    /// for this start and input size.</summary>
    public int ResolvedEpochs => TrainerOptionsResolver.Passes(this).Epochs;

    /// <summary>Images per step, 2 to 1024. Default 32.</summary>
    public int BatchSize { get; set; } = Defaults.BatchSize;

    /// <summary>The optimizer; null means SGD with Nesterov momentum from random weights and AdamW when starting from pretrained
    /// weights (its per-weight step sizes keep a fresh head's first updates in proportion however large the pretrained
    /// features are).</summary>
    public ResNetOptimizer? Optimizer { get; set; }

    /// <summary>Peak learning rate, greater than 0; null means 0.1 x <see cref="BatchSize"/> / 128 for SGD (0.025 at batch 32)
    /// and 0.001 for AdamW.</summary>
    public double? LearningRate { get; set; }

    /// <summary>SGD momentum, 0 to below 1. Default 0.9.</summary>
    public double Momentum { get; set; } = Defaults.Trainer.Momentum;

    /// <summary>Use Nesterov momentum with SGD (ignored when <see cref="Momentum"/> is 0). Default true.</summary>
    public bool Nesterov { get; set; } = true;

    /// <summary>Weight decay, 0 or more; null means 5e-4 for SGD (L2) and 0.05 for AdamW (decoupled).</summary>
    public double? WeightDecay { get; set; }

    /// <summary>The learning-rate schedule. Default one-cycle.</summary>
    public ResNetLearningRateSchedule LearningRateSchedule { get; set; } = ResNetLearningRateSchedule.OneCycle;

    /// <summary>Share of all steps spent warming up, 0 to below 1 (one-cycle and cosine); null means 0.3 for one-cycle, 0.05 for cosine.</summary>
    public double? WarmupFraction { get; set; }

    /// <summary>Epochs between learning-rate drops of the step schedule, 1 or more; null means a third of <see cref="Epochs"/>.</summary>
    public int? StepSizeEpochs { get; set; }

    /// <summary>Factor of each drop of the step schedule, greater than 0 and at most 1. Default 0.1.</summary>
    public double StepFactor { get; set; } = Defaults.Trainer.StepFactor;

    /// <summary>Label smoothing of the cross-entropy loss, 0 to below 1. Default 0.1.</summary>
    public double LabelSmoothing { get; set; } = Defaults.Trainer.LabelSmoothing;

    /// <summary>Random crop of training images (never of validation data). Default a random crop with padding.</summary>
    public ResNetCropAugmentation Crop { get; set; } = ResNetCropAugmentation.RandomCropWithPadding;

    /// <summary>Zero padding of each side for <see cref="ResNetCropAugmentation.RandomCropWithPadding"/>, 0 or more and below half the
    /// smaller side; null means an eighth of the smaller side (4 pixels at 32x32).</summary>
    public int? CropPadding { get; set; }

    /// <summary>Smallest area fraction of <see cref="ResNetCropAugmentation.RandomResizedCrop"/>, greater than 0 and at most 1. Default 0.25.</summary>
    public double RandomResizedCropMinScale { get; set; } = Defaults.Trainer.RandomResizedCropMinScale;

    /// <summary>Mirror half of the training images at random. Default true.</summary>
    public bool HorizontalFlip { get; set; } = true;

    /// <summary>Per-channel RGB mean subtracted from the 0..1 pixels (in training and, baked into the ONNX, in scoring). Default ImageNet's.</summary>
    public IReadOnlyList<float> Mean { get; set; } = Defaults.ImageNetMean;

    /// <summary>Per-channel RGB standard deviation the pixels are divided by; each greater than 0. Default ImageNet's.</summary>
    public IReadOnlyList<float> Std { get; set; } = Defaults.ImageNetStd;

    /// <summary>Validation data with the same columns (and label keys) as the training data; evaluated after every epoch.</summary>
    public IDataView? ValidationData { get; set; }

    /// <summary>Share of the training rows held out for validation instead of <see cref="ValidationData"/>, 0 (none) to below 1. Default 0.</summary>
    public double ValidationFraction { get; set; }

    /// <summary>Stop after this many epochs without improvement of <see cref="EarlyStoppingMetric"/> and restore the best weights;
    /// 1 or more, needs validation data. Null (default) trains every epoch.</summary>
    public int? EarlyStoppingPatience { get; set; }

    /// <summary>What early stopping watches. Default validation accuracy.</summary>
    public ResNetEarlyStoppingMetric EarlyStoppingMetric { get; set; } = ResNetEarlyStoppingMetric.ValidationAccuracy;

    /// <summary>Seed of weight initialization, shuffling, augmentation and the validation split; null draws one from the MLContext
    /// (so <c>new MLContext(seed)</c> makes runs repeatable), or, when <see cref="CheckpointFolder"/> holds a checkpoint, takes
    /// the checkpoint's. The same seed and data give the same weights on the CPU, also when other Fit calls run at the same
    /// time in the process (training runs take turns: see <see cref="ResNetTrainer.Fit"/>).</summary>
    public int? Seed { get; set; }

    /// <summary>Weights to start from: ours, PyTorch <c>.pth</c> or <c>.safetensors</c> of the same architecture, or an ONNX ResNet
    /// (whose shape and input normalization are then taken from the file). The classifier head (<c>fc</c>) is always fresh, sized
    /// to the label's classes. Takes precedence over <see cref="StartingWeights"/> as the source of the weights; with
    /// <see cref="StartingWeights"/> = <see cref="ResNetStartingWeights.ImageNet"/> beside it, the file is taken to hold
    /// ImageNet weights (torchvision's, say) and <see cref="Epochs"/> and <see cref="FrozenStages"/> get the defaults for
    /// fine-tuning ImageNet weights; without it they get the plain ones (10 epochs, nothing frozen), since the file may be
    /// anything, such as a model of your own saved to continue training.</summary>
    public string? PretrainedWeightsPath { get; set; }

    /// <summary>
    /// Start from random weights (default) or from ImageNet's. With <see cref="ResNetStartingWeights.ImageNet"/> and no
    /// <see cref="PretrainedWeightsPath"/>, the network is the ImageNet ResNet of the NuGet package
    /// <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c> (basic blocks 2/2/2/3; <see cref="Architecture"/>, <see cref="StageDepths"/>,
    /// <see cref="Mean"/> and <see cref="Std"/> are then the package network's), found beside the application when the project
    /// references that package. ImageNet weights also choose the defaults of <see cref="Epochs"/> and
    /// <see cref="FrozenStages"/> from the input size (see <see cref="Epochs"/>), also when the weights come from a
    /// <see cref="PretrainedWeightsPath"/> file.
    /// </summary>
    public ResNetStartingWeights StartingWeights { get; set; } = ResNetStartingWeights.Random;

    /// <summary>
    /// Before the first epoch, fit the fresh head to the pretrained network's features of the training images (a linear
    /// probe: one forward pass over the rows, then a regularized logistic regression on the cached features, as ML.NET's
    /// DnnFeaturizeImage + LbfgsMaximumEntropy train), so fine-tuning starts from a head that already separates the
    /// classes and the backbone's pretrained features are not worn away by a random head's first gradients (LP-FT:
    /// Kumar et al., 2022). Null means on when starting from pretrained weights. A run resumed from a checkpoint skips it.
    /// </summary>
    public bool? FitHeadFirst { get; set; }

    /// <summary>
    /// Stages from the input kept exactly as loaded while the rest fine-tunes: 1 = the stem (conv1, bn1), 2 = the stem and
    /// layer1, up to 4 (layer4 and the head still learn). Their weights and BatchNorm statistics stay fixed and their backward
    /// pass is skipped, which makes each step cheaper; early stages hold generic edges and textures that a small data set
    /// gains little from retraining. Their output for every training image and its mirror image is computed once, before
    /// the first epoch, and the epochs run only the learning stages on it (when it fits 2 GB and <see cref="Crop"/> is not
    /// <see cref="ResNetCropAugmentation.RandomResizedCrop"/>); the random crop then shifts that output by whole cells.
    /// Needs pretrained weights. Null means 0 (everything learns), except when fine-tuning ImageNet weights
    /// (<see cref="StartingWeights"/> = <see cref="ResNetStartingWeights.ImageNet"/>, without <see cref="FreezeBackbone"/>):
    /// there 3 (the stem, layer1 and layer2), or 4 (layer4 and the head learn) where <see cref="Epochs"/> is null too and the
    /// input is too large for one epoch of layer3 and layer4 in the budget <see cref="Epochs"/> describes (208x208, 224x224).
    /// An explicit <see cref="Epochs"/> keeps 3 at every size. <see cref="ResolvedFrozenStages"/> says what <c>Fit</c> will use.
    /// </summary>
    public int? FrozenStages { get; set; }

    /// <summary>The frozen stages <c>Fit</c> trains with these options: <see cref="FrozenStages"/> when set, otherwise its
    /// default for this start, input size and <see cref="Epochs"/>.</summary>
    public int ResolvedFrozenStages => TrainerOptionsResolver.Passes(this).FrozenStages;

    /// <summary>
    /// Every BatchNorm layer normalizes with the pretrained network's running statistics and keeps them, while its scale
    /// and shift still learn (what mmcv calls norm_eval). Statistics re-estimated from a small data set's batches are noisy,
    /// and they change the very features the head was fitted to (<see cref="FitHeadFirst"/>): on the committed Tux Paint
    /// photos, fine-tuning with them re-estimated fell from the fitted head's 0.966 to 0.881, with them kept it stayed at
    /// 0.966. Null means on when starting from pretrained weights.
    /// </summary>
    public bool? FreezeBatchNormStatistics { get; set; }

    /// <summary>
    /// Run the forward passes whose weights do not change (the <see cref="FrozenStages"/> every step, a frozen backbone, the
    /// head's feature pass of <see cref="FitHeadFirst"/>) in bfloat16 on a copy of the network. The network keeps float32
    /// weights, its learning stages and gradients stay float32, and the trained model is float32. On a CPU with AVX512-BF16
    /// or AMX these passes run about twice as fast; elsewhere bfloat16 is emulated and slower than float32. Null means on
    /// when training on a CPU that computes bfloat16 natively, off otherwise. A run in which every stage learns has no such
    /// passes and is unaffected.
    /// </summary>
    public bool? UseBFloat16 { get; set; }

    /// <summary>
    /// Compute the learning stages' forward and backward passes in bfloat16 (mixed precision): convolutions and the head in
    /// bfloat16, channels-last, on a copy of the network; BatchNorm, the loss, the gradients the optimizer applies and the
    /// weights it updates stay float32, and the trained model is float32, as with PyTorch's autocast. On a CPU with
    /// AVX512-BF16 or AMX a ResNet-34 step runs faster than float32's (see the README's training benchmark); elsewhere
    /// bfloat16 would be emulated, so asking for it there on the CPU is refused. Off by default: rounding the activations
    /// to bfloat16's 8-bit mantissa can cost accuracy; check it on your data.
    /// </summary>
    public bool TrainInBFloat16 { get; set; }

    /// <summary>
    /// Epochs at the start that train only the fresh head on the pretrained backbone (BatchNorm statistics kept), before
    /// the whole network is fine-tuned: a random head's first gradients would otherwise disturb the pretrained features.
    /// They count toward <see cref="Epochs"/> and follow their own cosine decay from the head's learning rate; the
    /// <see cref="LearningRateSchedule"/> covers the epochs after them. 0 or more and below <see cref="Epochs"/>; null means
    /// 0 (the head is fitted first instead: <see cref="FitHeadFirst"/>); with <see cref="FitHeadFirst"/> off, 1 when starting from pretrained weights (if <see cref="Epochs"/> is at least 2) and 0 otherwise. Ignored with
    /// <see cref="FreezeBackbone"/>.
    /// </summary>
    public int? HeadWarmupEpochs { get; set; }

    /// <summary>
    /// The backbone's learning rate as a fraction of <see cref="LearningRate"/> (which the fresh head gets), greater than 0
    /// and at most 1: pretrained layers need smaller steps than a new head. Null means 0.1 when starting from pretrained
    /// weights and 1 otherwise.
    /// </summary>
    public double? BackboneLearningRateFactor { get; set; }

    /// <summary>Train only the head: the backbone's weights and BatchNorm statistics stay as loaded. Needs pretrained weights
    /// (<see cref="PretrainedWeightsPath"/> or <see cref="StartingWeights"/>). The backbone's output for every training image
    /// and its mirror image is computed once, before the first epoch, and the epochs train the head on it (under the same
    /// conditions as for <see cref="FrozenStages"/>; the random crop's shift rounds to nothing at the backbone's stride of 32),
    /// as ML.NET's ImageClassification trainer caches its bottleneck values.</summary>
    public bool FreezeBackbone { get; set; }

    /// <summary>
    /// The ImageNet network that <see cref="ResNetStartingWeights.ImageNet"/> uses when no <see cref="PretrainedWeightsPath"/> is
    /// given: the file of the NuGet package <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c> beside the application, or null when
    /// the application's project does not reference that package.
    /// </summary>
    public static string? FeaturizerPackageNetworkPath => FeaturizerPackage.FindResNet18Onnx();

    /// <summary>True when the network starts from a file's weights rather than random ones.</summary>
    internal bool StartsPretrained => PretrainedWeightsPath is not null || StartingWeights == ResNetStartingWeights.ImageNet;

    /// <summary>CUDA device to train on; null uses <c>MLContext.GpuDeviceId</c> (and then <c>MLContext.FallbackToCpu</c>).</summary>
    public int? GpuDeviceId { get; set; }

    /// <summary>With <see cref="GpuDeviceId"/>: train on the CPU when the GPU cannot be used (no CUDA, no such device), instead of
    /// throwing; null (the default) uses <c>MLContext.FallbackToCpu</c>. Without a device the context's device and fallback apply.
    /// The same rule as the classifier's <see cref="ResNetClassifierOptions.FallbackToCpu"/>.</summary>
    public bool? FallbackToCpu { get; set; }

    /// <summary>Folder for epoch checkpoints. A run finding a checkpoint of the same settings there resumes after its last
    /// finished epoch; a failed or cancelled run leaves the last checkpoint intact.</summary>
    /// <remarks>
    /// <para>What may differ on resume: <see cref="Epochs"/> (at least the checkpoint's finished epochs), <see cref="Seed"/>
    /// when left null (the checkpoint's seed is used, so a fresh <c>new MLContext()</c> resumes too), and what does not change
    /// the weights: <see cref="Progress"/>, <see cref="ProgressInterval"/>, <see cref="NumberOfThreads"/>,
    /// <see cref="CancellationToken"/>, the GPU options. Any other option (and an explicit seed other than the checkpoint's)
    /// is refused with an <see cref="InvalidOperationException"/> naming the folder.</para>
    /// <para>The learning-rate schedule: with the same <see cref="Epochs"/> the run continues the checkpoint's schedule and
    /// ends with the weights an uninterrupted run would have (on the CPU). With another count ("train 5 more epochs") the
    /// epochs left get a schedule of their own over their span: one-cycle and cosine warm up and anneal again, the step
    /// schedule starts again at the peak rate (with a null <see cref="StepSizeEpochs"/>, a third of the span). A run that
    /// stopped early stays stopped.</para>
    /// </remarks>
    public string? CheckpointFolder { get; set; }

    /// <summary>Keep all training (and validation) pixels in memory after the first epoch and shuffle them fully; otherwise rows
    /// stream from the IDataView every epoch through a bounded shuffle pool. Default false.</summary>
    public bool CacheInMemory { get; set; }

    /// <summary>Rows in the streaming shuffle pool, 1 or more; null sizes it to 256 MB. Ignored with <see cref="CacheInMemory"/>.</summary>
    public int? ShufflePoolRows { get; set; }

    /// <summary>libtorch threads, 1 or more; null keeps libtorch's setting (by default one per core). libtorch's thread count is
    /// process-wide: it is set for the run and put back when Fit returns.</summary>
    public int? NumberOfThreads { get; set; }

    /// <summary>Called every <see cref="ProgressInterval"/> steps and at the end of every epoch; null writes the same lines to <c>MLContext.Log</c>.</summary>
    public Action<ResNetTrainingProgress>? Progress { get; set; }

    /// <summary>Steps between progress reports, 1 or more. Default 10.</summary>
    public int ProgressInterval { get; set; } = Defaults.Trainer.ProgressInterval;

    /// <summary>Stops training between steps; <c>Fit</c> then throws <see cref="OperationCanceledException"/>.</summary>
    public CancellationToken CancellationToken { get; set; }

    /// <summary>Also write an INT8 model here (a .onnx file) when training ends: the trained network quantized by
    /// <see cref="ResNetClassifierTransformer.SaveOnnx(string, IDataView, OnnxQuantizationOptions?)"/>, calibrated on the
    /// first <see cref="Int8CalibrationRows"/> rows of the training data. Null (the default) writes none. Its folder must
    /// exist; <c>Fit</c> still returns the FP32 classifier (score the INT8 file with <c>ResNet34Classify</c>).</summary>
    public string? Int8OnnxPath { get; set; }

    /// <summary>Training rows the <see cref="Int8OnnxPath"/> model is calibrated on, at least 20; 200 by default.</summary>
    public int Int8CalibrationRows { get; set; } = Defaults.Quantization.CalibrationRows;

    internal ResNetTrainerOptions Clone()
    {
        var copy = (ResNetTrainerOptions)MemberwiseClone();
        copy.StageDepths = StageDepths is null ? null : [.. StageDepths];
        return copy;
    }
}
