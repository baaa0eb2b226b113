namespace Microsoft.ML.ResNet;

/// <summary>The validation metric that early stopping watches and that picks the best weights.</summary>
public enum ResNetEarlyStoppingMetric
{
    /// <summary>Top-1 accuracy on the validation data (higher is better).</summary>
    ValidationAccuracy,

    /// <summary>Mean cross-entropy on the validation data, without label smoothing (lower is better).</summary>
    ValidationLoss,
}
