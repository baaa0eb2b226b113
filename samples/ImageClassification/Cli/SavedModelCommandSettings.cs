using System.ComponentModel;
using ImageClassification.Commands;
using ImageClassification.Data;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ImageClassification.Cli;

/// <summary>The options of the commands that open a saved model: <c>evaluate</c>, <c>predict</c>, <c>export</c>.</summary>
internal abstract class SavedModelCommandSettings : ImageCommandSettings
{
    /// <summary><c>--model</c>; null means what <c>train</c> writes by default.</summary>
    [CommandOption("--model <FILE>")]
    [Description("the saved model (default: out/model.zip, what train writes)")]
    public string? Model { get; init; }

    /// <summary>The full path of the model file.</summary>
    /// <exception cref="DatasetException">The file does not exist (exit code 3, like a missing data folder).</exception>
    public string ModelPath()
    {
        var path = Path.GetFullPath(Model ?? Path.Combine(CommandDefaults.OutputFolder, CommandDefaults.ModelFileName));
        if (!File.Exists(path))
        {
            throw new DatasetException(Model is not null
                ? $"Model file '{path}' does not exist."
                : $"Model file '{path}' does not exist. Run 'train' first, or pass --model <model.zip>.");
        }

        return path;
    }
}
