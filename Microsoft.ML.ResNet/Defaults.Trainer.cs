namespace Microsoft.ML.ResNet;

internal static partial class Defaults
{
    /// <summary>Every default of the ResNet trainer, in one place.</summary>
    internal static class Trainer
    {
        public const string LabelColumnName = "Label";

        /// <summary>Epochs when <see cref="ResNetTrainerOptions.Epochs"/> is null and the size rule for ImageNet weights does
        /// not apply (random weights, a weights file not declared ImageNet's, a frozen backbone).</summary>
        public const int Epochs = 10;

        /// <summary>The size rule's epochs at <see cref="FineTuningReferenceSide"/> x <see cref="FineTuningReferenceSide"/> and
        /// below (see <see cref="Training.FineTuningPasses"/>).</summary>
        public const int FineTuningEpochs = 3;

        /// <summary>The size rule's frozen stages (the stem, layer1 and layer2), whenever at least one epoch of layer3 and
        /// layer4 fits its budget.</summary>
        public const int FineTuningFrozenStages = 3;

        /// <summary>The input side at which the size rule's <see cref="FineTuningEpochs"/> apply as given; larger inputs get
        /// fewer in proportion to their area.</summary>
        public const int FineTuningReferenceSide = 112;
        /// <summary>SGD's peak learning rate per <see cref="SgdReferenceBatchSize"/> images; scaled linearly with the batch size
        /// (Goyal et al., 2017). Measured on the Fashion-MNIST subset: batch 32 trains best near 0.03, batch 64 near 0.05.</summary>
        public const double SgdLearningRate = 0.1;

        public const int SgdReferenceBatchSize = 128;
        public const double AdamWLearningRate = 1e-3;
        public const double Momentum = 0.9;
        public const double SgdWeightDecay = 5e-4;
        public const double AdamWWeightDecay = 0.05;
        public const double OneCycleWarmupFraction = 0.3;
        public const double CosineWarmupFraction = 0.05;
        public const double StepFactor = 0.1;
        public const double LabelSmoothing = 0.1;
        public const double RandomResizedCropMinScale = 0.25;
        public const int ProgressInterval = 10;

        /// <summary>Head-only epochs before fine-tuning a pretrained network end to end (linear probing, then fine-tuning:
        /// Kumar et al., 2022).</summary>
        public const int PretrainedHeadWarmupEpochs = 1;

        /// <summary>
        /// The pretrained backbone's share of the head's learning rate (with AdamW's default 1e-3 for the head). Measured at
        /// 112x112 from the featurizer package's network, 1 + 4 epochs: on the Fashion-MNIST subset AdamW with 0.1 reached
        /// 0.854 (SGD at 0.02 with 0.5: 0.865); on the Tux Paint photos AdamW with 0.1 reached 0.881, with 0.3 0.864, while
        /// that SGD recipe fell to 0.712: natural photos need their ImageNet features kept, and AdamW's first head steps stay
        /// small however large the CNTK network's features are.
        /// </summary>
        public const double PretrainedBackboneLearningRateFactor = 0.1;
        public const int PrefetchBatches = 2;

        /// <summary>The most stages <see cref="ResNetTrainerOptions.FrozenStages"/> may freeze: layer4 always learns unless the
        /// whole backbone is frozen.</summary>
        public const int MaxFrozenStages = 4;

        /// <summary>Memory the streaming shuffle pool may use when no row count is given (32x32 images: every
        /// row of a 20k-image set; 224x224: about 400 rows).</summary>
        public const long ShufflePoolBytes = 256L << 20;
    }
}
