namespace Microsoft.ML.ResNet;

/// <summary>How the learning rate changes over the run (updated every step).</summary>
public enum ResNetLearningRateSchedule
{
    /// <summary>Smith's one-cycle policy as PyTorch's OneCycleLR: from lr/25 up to lr over the warm-up
    /// fraction (cosine), then cosine down to lr/25e4 at the last step.</summary>
    OneCycle,

    /// <summary>Linear warm-up from 0 to lr over the warm-up fraction, then cosine decay to 0.</summary>
    CosineWithWarmup,

    /// <summary>lr multiplied by the step factor every step-size epochs.</summary>
    Step,

    /// <summary>The same learning rate throughout.</summary>
    Constant,
}
