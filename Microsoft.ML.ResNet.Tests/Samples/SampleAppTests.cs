using System.Text.Json;
using ImageClassification.Cli;

namespace Microsoft.ML.ResNet.Tests.Samples;

/// <summary>
/// The sample's command line through Spectre.Console.Cli, as the README and CI use it: names and both option spellings
/// reach the commands, every page of help, and bad arguments refused with exit code 2 and a message that names the option,
/// what it takes and what it got (no stack trace).
/// </summary>
[TestClass]
public sealed class SampleAppTests : TempFolderTest
{
    [TestMethod]
    public void Run_Help_ListsEveryCommandAndTheExitCodes()
    {
        var (exit, output, errors) = Run("--help");

        Assert.AreEqual(ExitCodes.Ok, exit, errors);
        foreach (var command in new[] { "train", "evaluate", "predict", "export" })
        {
            StringAssert.Contains(output, $"    {command} ");
        }

        StringAssert.Contains(output, "Exit codes: 0 ok, 1 failure, 2 bad command line, 3 bad data or model path.");
    }

    [TestMethod]
    [DataRow("train", "--data <FOLDER>", "--from-scratch", "--variant <WIRING>", "--epochs <N>", "--output <FOLDER>")]
    [DataRow("evaluate", "--model <FILE>", "--data <FOLDER>", "--top-k <K>", "--bad-images <POLICY>", "--help")]
    [DataRow("predict", "<IMAGE_OR_FOLDER>", "--format <FORMAT>", "--top-k <K>", "--model <FILE>", "--bad-images <POLICY>")]
    [DataRow("export", "--int8", "--triton <FOLDER>", "--output <FILE>", "--data <FOLDER>", "--model <FILE>")]
    public void Run_CommandHelp_ListsItsOptions(string command, string a, string b, string c, string d, string e)
    {
        var (exit, output, errors) = Run(command, "--help");

        Assert.AreEqual(ExitCodes.Ok, exit, errors);
        foreach (var option in new[] { a, b, c, d, e })
        {
            StringAssert.Contains(output, option);
        }
    }

    [TestMethod]
    public void Run_OptionsWithoutCommand_AreTrainOptions()
    {
        var missing = Path.Combine(Folder, "missing");

        var (exit, _, errors) = Run("--data", missing, "--epochs", "2");

        Assert.AreEqual(ExitCodes.BadDataOrModelPath, exit, errors);
        StringAssert.Contains(errors, $"Data folder '{missing}' does not exist.");
    }

    [TestMethod]
    public void Run_PredictWithBothOptionSpellings_WritesJsonOfEveryImageWithTopK()
    {
        var (zip, _) = SavedPipeline.Create(Folder);
        var images = Path.Combine(TestPaths.FashionMnistTest, "Bag");

        var (exit, output, errors) = Run("predict", images, "--model", zip, "--format=json", "--top-k", "2");

        Assert.AreEqual(ExitCodes.Ok, exit, errors);
        using var json = JsonDocument.Parse(output);
        var rows = json.RootElement.EnumerateArray().ToList();
        Assert.AreEqual(Directory.GetFiles(images, "*.png").Length, rows.Count);
        Assert.IsTrue(rows.All(r => r.GetProperty("top").GetArrayLength() == 2), output);
    }

    [TestMethod]
    public void Run_MissingModel_ExitsWith3NamingTheFile()
    {
        var model = Path.Combine(Folder, "missing.zip");

        var (exit, _, errors) = Run("evaluate", "--model", model);

        Assert.AreEqual(ExitCodes.BadDataOrModelPath, exit);
        Assert.AreEqual($"error: Model file '{model}' does not exist.{Environment.NewLine}", errors);
    }

    [TestMethod]
    [DataRow("fit", "Unknown command 'fit'.")]
    [DataRow("predict x.png --epochs 3", "Unknown option '--epochs' for 'predict'.")]
    [DataRow("predict x.png --epochs=3", "Unknown option '--epochs' for 'predict'.")]
    [DataRow("train --data", "Option 'data' is defined but no value has been provided.")]
    [DataRow("predict", "Command 'predict' is missing required argument 'IMAGE_OR_FOLDER'.")]
    [DataRow("evaluate --model m.zip -- more", "Unexpected argument(s) for 'evaluate': more.")]
    public void Run_UnknownCommandOrOption_ExitsWith2AndSaysWhich(string commandLine, string message)
    {
        var (exit, output, errors) = Run(commandLine.Split(' '));

        Assert.AreEqual(ExitCodes.BadCommandLine, exit, output + errors);
        Assert.AreEqual($"error: {message}{Environment.NewLine}Run with --help for the commands and options.{Environment.NewLine}", errors);
    }

    [TestMethod]
    [DataRow("train --epochs two", "Option '--epochs' expects an integer, got 'two'.")]
    [DataRow("train --epochs=1.5", "Option '--epochs' expects an integer, got '1.5'.")]
    [DataRow("train --epochs 0", "Option '--epochs' expects an integer 1..1000, got '0'.")]
    [DataRow("train --seed:-1", "Option '--seed' expects an integer >= 0, got '-1'.")]
    [DataRow("train --learning-rate abc", "Option '--learning-rate' expects a number, got 'abc'.")]
    [DataRow("train --learning-rate -0.1", "Option '--learning-rate' expects a positive number, got '-0.1'.")]
    [DataRow("train --arch 33", "Option '--arch' expects one of resnet18, resnet34, resnet50, resnet101, resnet152, got '33'.")]
    [DataRow("train --variant seed --image-size 64", "Option '--variant seed' trains on 224x224 images only (its fixed 7x7 pool), got '--image-size 64'.")]
    [DataRow("evaluate --bad-images maybe", "Option '--bad-images' expects one of skip, fail, got 'maybe'.")]
    [DataRow("predict x.png --format xml", "Option '--format' expects one of table, csv, json, got 'xml'.")]
    [DataRow("predict x.png --top-k 21", "Option '--top-k' expects an integer 1..20, got '21'.")]
    [DataRow("export --triton models --int8", "Option '--triton' writes a repository instead of the ONNX file: it does not combine with '--int8'.")]
    public void Run_BadValue_ExitsWith2NamingOptionExpectedAndActual(string commandLine, string message)
    {
        var (exit, output, errors) = Run(commandLine.Split(' '));

        Assert.AreEqual(ExitCodes.BadCommandLine, exit, output + errors);
        Assert.AreEqual($"error: {message}{Environment.NewLine}Run with --help for the commands and options.{Environment.NewLine}", errors);
        Assert.AreEqual(string.Empty, output, "nothing ran");
    }

    private static (int Exit, string Output, string Errors) Run(params string[] args)
    {
        var (console, output) = PlainConsole.Create();
        using var errors = new StringWriter();
        var exit = SampleApp.Run(args, console, errors);
        return (exit, output.ToString(), errors.ToString());
    }
}
