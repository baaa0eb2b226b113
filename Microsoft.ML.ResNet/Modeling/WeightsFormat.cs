namespace Microsoft.ML.ResNet.Modeling;

/// <summary>The weight-file formats we read; told apart by content, not by file extension.</summary>
internal enum WeightsFormat
{
    /// <summary>A PyTorch <c>torch.save(state_dict)</c> file, zip (1.6+) or legacy pickle.</summary>
    PyTorch,

    /// <summary>Hugging Face safetensors; the ones we write describe their network in their metadata.</summary>
    SafeTensors,

    /// <summary>An ONNX ResNet (ModelProto), mapped onto our modules by its structure (see <see cref="OnnxResNetImporter"/>).</summary>
    Onnx,
}
