namespace ImageClassification.Commands;

/// <summary>Defaults the commands share.</summary>
internal static class CommandDefaults
{
    public const string OutputFolder = "out";
    public const string ModelFileName = "model.zip";
    public const string OnnxFileName = "model.onnx";

    /// <summary>Sub-folder of the output folder where <c>train</c> keeps its epoch checkpoints until the model is saved.</summary>
    public const string CheckpointFolderName = "checkpoints";

    /// <summary><c>--top-k</c> when not given, and the most it accepts.</summary>
    public const int TopK = 3;
    public const int MaxTopK = 20;
    public const string TopKDescription = "how many labels to show per image, and the k of top-k accuracy (1..20)";
}
