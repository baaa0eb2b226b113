using System.Diagnostics;
using System.Text.Json;
using ImageClassification.Cli;
using ImageClassification.Commands;

namespace Microsoft.ML.ResNet.Tests.Samples;

/// <summary>
/// The sample's <c>train</c> command end to end on a tiny folder-per-label set built from committed Fashion-MNIST
/// images (2 labels, 10 images each) with the sample's defaults and few epochs: nothing finished is lost.
/// </summary>
[TestClass]
public sealed class TrainCommandTests : TempFolderTest
{
    private const string CheckpointState = "checkpoint.json";

    private string Data => Path.Combine(Folder, "data");

    private string Output => Path.Combine(Folder, "out");

    private string Checkpoints => Path.Combine(Output, CommandDefaults.CheckpointFolderName);

    [TestInitialize]
    public void CreateData()
    {
        foreach (var label in new[] { "Bag", "Trouser" })
        {
            var target = Directory.CreateDirectory(Path.Combine(Data, label)).FullName;
            foreach (var file in Directory.GetFiles(Path.Combine(TestPaths.FashionMnistTrain, label), "*.png").Order(StringComparer.Ordinal).Take(10))
            {
                File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
            }
        }
    }

    [TestMethod]
    public void Run_FolderWithAnAllBlackImage_TrainsEvaluatesAndSaves()
    {
        // One sorts first in its label, so the 1-in-5 split keeps it in the training images; the other sorts fifth
        // (just after the third original image), so it is held out and evaluation scores it.
        var bag = Path.Combine(Data, "Bag");
        var third = Path.GetFileNameWithoutExtension(Directory.GetFiles(bag, "*.png").Order(StringComparer.Ordinal).ElementAt(2));
        File.Copy(TestPaths.BlackImage, Path.Combine(bag, "0-black.png"));
        File.Copy(TestPaths.BlackImage, Path.Combine(bag, $"{third}_black.png"));
        var (console, text) = PlainConsole.Create();

        var exit = new TrainCommand(console).Run(new TrainCommandSettings { Data = Data, Output = Output, Epochs = 1 });

        Assert.AreEqual(0, exit, text.ToString());
        Assert.IsTrue(File.Exists(Path.Combine(Output, CommandDefaults.ModelFileName)), text.ToString());
        Assert.IsTrue(File.Exists(Path.Combine(Output, CommandDefaults.OnnxFileName)), text.ToString());
        StringAssert.Contains(text.ToString(), "inputs pixels [Nx3x", "model.onnx is the library's SaveOnnx file, input named 'pixels'");
        Assert.IsFalse(text.ToString().Contains("resnetml_", StringComparison.Ordinal), "no output the zip adds for ML.NET: " + text);
        StringAssert.Contains(text.ToString(), "Accuracy (macro)", "The evaluation ran.");
        Assert.IsFalse(Directory.Exists(Checkpoints), "A saved model ends the run: its checkpoints go, so the next run starts over.");
    }

    [TestMethod]
    public void Run_EvaluationFails_ModelFilesAreAlreadySavedAndNamed()
    {
        var (console, text) = PlainConsole.Create();
        var settings = new TrainCommandSettings { Data = Data, Output = Output, Epochs = 3 };
        var run = Task.Factory.StartNew(() => new TrainCommand(console).Run(settings), TaskCreationOptions.LongRunning);

        // Once training is under way, a held-out image (every fifth of a label) goes: evaluation will fail on it.
        WaitFor(() => File.Exists(Path.Combine(Checkpoints, CheckpointState)) || run.IsCompleted, TimeSpan.FromMinutes(2));
        File.Delete(Directory.GetFiles(Path.Combine(Data, "Trouser"), "*.png").Order(StringComparer.Ordinal).ElementAt(4));

        var error = Assert.ThrowsExactly<AggregateException>(() => run.Wait(TimeSpan.FromMinutes(3)));

        var modelPath = Path.Combine(Output, CommandDefaults.ModelFileName);
        var onnxPath = Path.Combine(Output, CommandDefaults.OnnxFileName);
        Assert.IsTrue(File.Exists(modelPath), $"{error.InnerException?.Message}{Environment.NewLine}{text}");
        Assert.IsTrue(File.Exists(onnxPath), text.ToString());
        var output = text.ToString().ReplaceLineEndings(" ");
        StringAssert.Contains(output, "the model is saved");
        StringAssert.Contains(output, modelPath);
        StringAssert.Contains(output, onnxPath);
    }

    [TestMethod]
    public void Run_AgainAfterTheProcessIsKilled_ResumesAfterTheLastFinishedEpoch()
    {
        const int Epochs = 6;
        string[] args = ["train", "--data", Data, "--output", Output, "--epochs", Epochs.ToString(System.Globalization.CultureInfo.InvariantCulture)];
        var statePath = Path.Combine(Checkpoints, CheckpointState);
        using (var first = StartSample(args))
        {
            WaitFor(() => File.Exists(statePath) || first.HasExited, TimeSpan.FromMinutes(2));
            first.Kill(entireProcessTree: true);
            first.WaitForExit();
        }

        Assert.IsTrue(File.Exists(statePath), "The killed run left its checkpoint.");
        Assert.IsFalse(File.Exists(Path.Combine(Output, CommandDefaults.ModelFileName)), "The first run was killed before it finished.");
        using var state = JsonDocument.Parse(File.ReadAllText(statePath));
        var finished = state.RootElement.GetProperty("CompletedEpochs").GetInt32();
        Assert.IsTrue(finished is >= 1 and < Epochs, $"Killed after {finished} epoch(s).");

        using var second = StartSample(args);
        var stdout = second.StandardOutput.ReadToEndAsync();
        var stderr = second.StandardError.ReadToEndAsync();
        Assert.IsTrue(second.WaitForExit(TimeSpan.FromMinutes(3)), "The second run did not finish within 3 minutes.");
        var log = stdout.Result + stderr.Result;

        Assert.AreEqual(0, second.ExitCode, log);
        StringAssert.Contains(log, "Resuming from the checkpoint");
        var epochLines = log.Split('\n').Where(l => l.StartsWith("epoch ", StringComparison.Ordinal)).ToList();
        Assert.AreEqual(Epochs - finished, epochLines.Count, log);
        StringAssert.StartsWith(epochLines[0], $"epoch {finished + 1}/{Epochs} ");
        Assert.IsTrue(File.Exists(Path.Combine(Output, CommandDefaults.ModelFileName)), log);
    }

    /// <summary>The sample app (copied next to the tests) in a child process: it is killed there, not the test host.</summary>
    private static Process StartSample(IEnumerable<string> args)
    {
        var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "ImageClassification"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return Process.Start(start) ?? throw new InvalidOperationException("The sample did not start.");
    }

    private static void WaitFor(Func<bool> condition, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > limit)
            {
                Assert.Fail($"Waited {limit} for training to write its first checkpoint.");
            }

            Thread.Sleep(10);
        }
    }
}
