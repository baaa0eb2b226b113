namespace Microsoft.ML.ResNet;

/// <summary>The optimizer that updates the network's weights during training.</summary>
public enum ResNetOptimizer
{
    /// <summary>Stochastic gradient descent with (by default Nesterov) momentum and L2 weight decay:
    /// the classic recipe for ResNets trained from scratch.</summary>
    Sgd,

    /// <summary>Adam with decoupled weight decay (Loshchilov and Hutter, 2019): less sensitive to the
    /// learning rate, a good choice for fine-tuning.</summary>
    AdamW,
}
