namespace Microsoft.ML.ResNet;

/// <summary>The file formats <see cref="ResNetClassifierTransformer.SaveWeights(string, ResNetWeightsFormat, ResNetWeightsLayout?)"/> writes.</summary>
public enum ResNetWeightsFormat
{
    /// <summary>
    /// A PyTorch state dict as <c>torch.save</c> writes it (a zip of a protocol-2 pickle and the raw storages; extension
    /// <c>.pth</c> or <c>.pt</c>). <c>torch.load</c> reads it, and with torchvision's key names
    /// <c>torchvision.models.resnet34().load_state_dict(..., strict=True)</c> accepts it. It carries tensors only: labels,
    /// architecture and input normalization travel beside it.
    /// </summary>
    PyTorch,

    /// <summary>
    /// Hugging Face safetensors (extension <c>.safetensors</c>): the same tensors, plus the labels, architecture, variant,
    /// stage depths and input normalization in its <c>__metadata__</c>, so loading it back needs no option.
    /// </summary>
    Safetensors,
}
