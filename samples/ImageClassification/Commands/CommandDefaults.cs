using ImageClassification.Cli;
using ImageClassification.Data;

namespace ImageClassification.Commands;

/// <summary>Defaults and option readers the commands share.</summary>
internal static class CommandDefaults
{
    public const string OutputFolder = "out";
    public const string ModelFileName = "model.zip";
    public const string OnnxFileName = "model.onnx";

    /// <summary>Sub-folder of the output folder where <c>train</c> keeps its epoch checkpoints until the model is saved.</summary>
    public const string CheckpointFolderName = "checkpoints";
    public const int TopK = 3;

    /// <summary><c>--model</c>, or <c>out/model.zip</c> (what <c>train</c> writes by default).</summary>
    public static string ModelPath(CommandLineArgs args)
    {
        var path = Path.GetFullPath(args.GetString("model") ?? Path.Combine(OutputFolder, ModelFileName));
        if (!File.Exists(path))
        {
            throw new DatasetException(args.Has("model")
                ? $"Model file '{path}' does not exist."
                : $"Model file '{path}' does not exist. Run 'train' first, or pass --model <model.zip>.");
        }

        return path;
    }

    /// <summary><c>--bad-images skip|fail</c>, default skip.</summary>
    public static BadImagePolicy BadImages(CommandLineArgs args) =>
        args.GetChoice("bad-images", "skip", "skip", "fail") == "fail" ? BadImagePolicy.Fail : BadImagePolicy.Skip;

    /// <summary><c>--top-k</c>, 1..20.</summary>
    public static int TopKOption(CommandLineArgs args) => args.GetInt("top-k", TopK, min: 1, max: 20);
}
