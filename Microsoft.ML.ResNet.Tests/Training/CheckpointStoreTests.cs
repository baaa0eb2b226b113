using System.Text.Json.Nodes;
using Microsoft.ML.ResNet.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Tests.Training;

/// <summary>Hostile checkpoint.json names and a disk that fills up in the middle of a checkpoint.</summary>
[TestClass]
public sealed class CheckpointStoreTests : TempFolderTest
{
    private const string Fingerprint = "test-run";

    [TestMethod]
    public void TryRead_OwnCheckpoint_ReturnsIt()
    {
        var store = WriteFirstCheckpoint(Path.Combine(Folder, "run"));

        var state = store.TryRead();

        Assert.AreEqual(1, state!.CompletedEpochs);
    }

    [TestMethod]
    public void TryRead_AbsoluteModelFileName_ThrowsInvalidDataAndTheNamedFileSurvives()
    {
        var victim = Path.Combine(Folder, "precious.txt");
        File.WriteAllText(victim, "someone's work");
        var store = WriteFirstCheckpoint(Path.Combine(Folder, "run"));
        EditState(store, "ModelFile", victim);

        var error = Assert.ThrowsExactly<InvalidDataException>(() => store.TryRead());

        StringAssert.Contains(error.Message, store.StatePath);
        StringAssert.Contains(error.Message, victim);
        Assert.AreEqual("someone's work", File.ReadAllText(victim));
    }

    [TestMethod]
    public void TryRead_DotDotOptimizerFileName_ThrowsInvalidData()
    {
        File.WriteAllText(Path.Combine(Folder, "precious.optimizer"), "someone's work");
        var store = WriteFirstCheckpoint(Path.Combine(Folder, "run"));
        EditState(store, "OptimizerFile", "../precious.optimizer");

        var error = Assert.ThrowsExactly<InvalidDataException>(() => store.TryRead());

        StringAssert.Contains(error.Message, "../precious.optimizer");
    }

    [TestMethod]
    public void TryRead_BestFileInASubfolder_ThrowsInvalidData()
    {
        var store = WriteFirstCheckpoint(Path.Combine(Folder, "run"));
        Directory.CreateDirectory(Path.Combine(Folder, "run", "sub"));
        File.WriteAllText(Path.Combine(Folder, "run", "sub", "best-0001.model"), "x");
        EditState(store, "BestFile", "sub/best-0001.model");

        Assert.ThrowsExactly<InvalidDataException>(() => store.TryRead());
    }

    [TestMethod]
    public void TryRead_DamagedJson_ThrowsInvalidDataNamingTheFile()
    {
        var store = WriteFirstCheckpoint(Path.Combine(Folder, "run"));
        File.WriteAllText(store.StatePath, "{ \"Fingerprint\": ");

        var error = Assert.ThrowsExactly<InvalidDataException>(() => store.TryRead());

        StringAssert.Contains(error.Message, store.StatePath);
    }

    [TestMethod]
    public void Write_DiskFillsAfterTheModelFile_PreviousCheckpointIntactLoadableAndNothingLeft()
    {
        using var disk = SmallDisk.Mount("4m");
        var folder = Path.Combine(disk.Folder, "run");
        using var model = nn.Linear(3, 2);
        using var optimizer = optim.SGD(model.parameters(), 0.1, momentum: 0.9);
        var store = new CheckpointStore(folder, Fingerprint, seed: 1, epochs: 3);
        var first = store.Write(model, optimizer, null, 1, bestImproved: true, 0.5, 1, 0, stoppedEarly: false, scheduleStartEpoch: 0, scheduleEndEpoch: 3);
        var firstFiles = Directory.GetFiles(folder).Order(StringComparer.Ordinal).ToArray();
        var expected = model.weight!.detach().clone();

        // Room for exactly this epoch's model file (one page on tmpfs): the optimizer file is what fails.
        disk.Fill(leaveFreeBytes: RoundToPage(new FileInfo(store.PathOf(first.ModelFile)).Length));
        using (no_grad())
        {
            model.weight!.add_(1f);
        }

        var error = Assert.ThrowsExactly<IOException>(() => store.Write(model, optimizer, first, 2, bestImproved: true, 0.6, 2, 0, stoppedEarly: false, scheduleStartEpoch: 0, scheduleEndEpoch: 3));

        StringAssert.Contains(error.Message, folder);
        CollectionAssert.AreEqual(firstFiles, Directory.GetFiles(folder).Order(StringComparer.Ordinal).ToArray(), "no epoch-2 file or temp file is left");
        var state = store.TryRead()!;
        Assert.AreEqual(1, state.CompletedEpochs);
        using var restored = nn.Linear(3, 2);
        using var restoredOptimizer = optim.SGD(restored.parameters(), 0.1, momentum: 0.9);
        store.Restore(state, restored, restoredOptimizer);
        Assert.IsTrue(restored.weight!.allclose(expected, rtol: 0, atol: 0), "the last good checkpoint restores the epoch-1 weights");
    }

    private static long RoundToPage(long bytes) => (bytes + 4095) / 4096 * 4096;

    private static CheckpointStore WriteFirstCheckpoint(string folder)
    {
        using var model = nn.Linear(3, 2);
        using var optimizer = optim.SGD(model.parameters(), 0.1);
        var store = new CheckpointStore(folder, Fingerprint, seed: 1, epochs: 3);
        store.Write(model, optimizer, null, 1, bestImproved: true, 0.5, 1, 0, stoppedEarly: false, scheduleStartEpoch: 0, scheduleEndEpoch: 3);
        return store;
    }

    private static void EditState(CheckpointStore store, string property, string value)
    {
        var json = JsonNode.Parse(File.ReadAllText(store.StatePath))!;
        json[property] = value;
        File.WriteAllText(store.StatePath, json.ToJsonString());
    }
}
