using ImageClassification.Cli;

namespace Microsoft.ML.ResNet.Tests.Samples;

[TestClass]
public sealed class CommandLineArgsTests
{
    [TestMethod]
    public void Parse_NoArguments_IsTrainWithDefaults()
    {
        var commandLine = CommandLineArgs.Parse([]);

        Assert.AreEqual(CommandLineArgs.Train, commandLine.Command);
        Assert.AreEqual(4, commandLine.GetInt("epochs", 4));
        Assert.IsNull(commandLine.GetString("data"));
    }

    [TestMethod]
    public void Parse_OptionsInBothSpellings_ReadsValuesAndPositionals()
    {
        var commandLine = CommandLineArgs.Parse(["predict", "images", "--format=json", "--top-k", "5"]);

        Assert.AreEqual(CommandLineArgs.Predict, commandLine.Command);
        CollectionAssert.AreEqual(new[] { "images" }, commandLine.Positionals.ToArray());
        Assert.AreEqual("json", commandLine.GetChoice("format", "table", "table", "csv", "json"));
        Assert.AreEqual(5, commandLine.GetInt("top-k", 3));
    }

    [TestMethod]
    public void Parse_OptionsWithoutCommand_AreTrainOptions()
    {
        var commandLine = CommandLineArgs.Parse(["--epochs", "2"]);

        Assert.AreEqual(CommandLineArgs.Train, commandLine.Command);
        Assert.AreEqual(2, commandLine.GetInt("epochs", 4));
    }

    [TestMethod]
    public void Parse_HelpAnywhere_IsHelp()
    {
        Assert.AreEqual(CommandLineArgs.Help, CommandLineArgs.Parse(["--help"]).Command);
        Assert.AreEqual(CommandLineArgs.Help, CommandLineArgs.Parse(["train", "--epochs", "2", "-h"]).Command);
    }

    [TestMethod]
    public void Parse_UnknownCommand_ThrowsListingCommands()
    {
        var error = Assert.ThrowsExactly<UsageException>(() => CommandLineArgs.Parse(["fit"]));

        StringAssert.Contains(error.Message, "'fit'");
        StringAssert.Contains(error.Message, "train, evaluate, predict, export");
    }

    [TestMethod]
    public void Parse_OptionOfAnotherCommand_ThrowsListingAcceptedOptions()
    {
        var error = Assert.ThrowsExactly<UsageException>(() => CommandLineArgs.Parse(["predict", "x.png", "--epochs", "3"]));

        StringAssert.Contains(error.Message, "'--epochs'");
        StringAssert.Contains(error.Message, "--format");
    }

    [TestMethod]
    public void Parse_OptionWithoutValue_ThrowsNamingWhatItNeeds()
    {
        var error = Assert.ThrowsExactly<UsageException>(() => CommandLineArgs.Parse(["train", "--data", "--epochs", "2"]));

        StringAssert.Contains(error.Message, "'--data' needs a value (folder)");
    }

    [TestMethod]
    [DataRow("0")]
    [DataRow("two")]
    [DataRow("1.5")]
    public void GetInt_NotAPositiveInteger_ThrowsWithValue(string value)
    {
        var commandLine = CommandLineArgs.Parse(["train", "--epochs", value]);

        var error = Assert.ThrowsExactly<UsageException>(() => commandLine.GetInt("epochs", 4, min: 1));

        StringAssert.Contains(error.Message, $"got '{value}'");
    }

    [TestMethod]
    public void GetChoice_UnknownValue_ThrowsListingChoices()
    {
        var commandLine = CommandLineArgs.Parse(["predict", "x.png", "--format", "xml"]);

        var error = Assert.ThrowsExactly<UsageException>(() => commandLine.GetChoice("format", "table", "table", "csv", "json"));

        StringAssert.Contains(error.Message, "table, csv, json");
    }
}
