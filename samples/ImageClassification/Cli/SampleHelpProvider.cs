using Spectre.Console;
using Spectre.Console.Cli;
using Spectre.Console.Cli.Help;
using Spectre.Console.Rendering;

namespace ImageClassification.Cli;

/// <summary>Spectre's help, with what the app does without a command on the first page and the exit codes on every page.</summary>
internal sealed class SampleHelpProvider(ICommandAppSettings settings) : HelpProvider(settings)
{
    private const string AppDescription =
        "Train, evaluate and use a ResNet image classifier (ML.NET + TorchSharp + ONNX Runtime).\n"
        + "With no command, or with options only, it runs 'train': fine-tune an ImageNet ResNet on the embedded Fashion-MNIST "
        + "sample, evaluate it, save out/model.zip and out/model.onnx, and classify a few held-out images. "
        + "'<command> --help' lists a command's options.";

    public override IEnumerable<IRenderable> GetDescription(ICommandModel model, ICommandInfo? command) =>
        command is null
            ? [new Text(AppDescription), Text.NewLine, Text.NewLine]
            : base.GetDescription(model, command);

    public override IEnumerable<IRenderable> GetFooter(ICommandModel model, ICommandInfo? command) =>
    [
        .. base.GetFooter(model, command),
        Text.NewLine,
        new Text($"Exit codes: {ExitCodes.Ok} ok, {ExitCodes.Failure} failure, {ExitCodes.BadCommandLine} bad command line, {ExitCodes.BadDataOrModelPath} bad data or model path."),
        Text.NewLine,
    ];
}
