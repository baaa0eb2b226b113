using System.Text.Json;
using Microsoft.ML.ResNet.Modeling;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Training;

/// <summary>
/// Epoch checkpoints in a folder. Tensor files carry the epoch in their name and are written (temp file,
/// then rename) before <see cref="StateFileName"/> is atomically replaced to point at them; older files go
/// only after that. A crash or cancellation at any moment therefore leaves a complete previous checkpoint.
/// </summary>
internal sealed class CheckpointStore
{
    public const string StateFileName = "checkpoint.json";

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    private readonly string _folder;
    private readonly string _fingerprint;

    public CheckpointStore(string folder, string fingerprint)
    {
        _folder = folder;
        _fingerprint = fingerprint;
    }

    public string StatePath => Path.Combine(_folder, StateFileName);

    /// <summary>The last checkpoint, or null when the folder has none.</summary>
    /// <exception cref="InvalidOperationException">The checkpoint belongs to a run with different settings, or its files are missing.</exception>
    public CheckpointState? TryRead()
    {
        if (!File.Exists(StatePath))
        {
            return null;
        }

        var state = JsonSerializer.Deserialize<CheckpointState>(File.ReadAllText(StatePath))
            ?? throw new InvalidOperationException($"Checkpoint '{StatePath}' is empty.");
        if (state.Fingerprint != _fingerprint)
        {
            throw new InvalidOperationException(
                $"Checkpoint folder '{_folder}' holds a run with different settings (checkpoint: {state.Fingerprint}; this run: {_fingerprint}). Use another folder or delete it to start over.");
        }

        foreach (var file in new[] { state.ModelFile, state.OptimizerFile, state.BestFile })
        {
            if (file is not null && !File.Exists(Path.Combine(_folder, file)))
            {
                throw new InvalidOperationException($"Checkpoint '{StatePath}' refers to '{file}', which is missing from '{_folder}'.");
            }
        }

        return state;
    }

    /// <summary>Restores the weights and the optimizer state of <paramref name="state"/>.</summary>
    public void Restore(CheckpointState state, nn.Module model, OptimizerHelper optimizer)
    {
        model.load(Path.Combine(_folder, state.ModelFile));
        optimizer.load_state_dict(Path.Combine(_folder, state.OptimizerFile));
    }

    public string PathOf(string file) => Path.Combine(_folder, file);

    /// <summary>Writes the end-of-epoch checkpoint. <paramref name="bestImproved"/> also saves the current weights as the best.</summary>
    public CheckpointState Write(
        nn.Module model,
        OptimizerHelper optimizer,
        CheckpointState? previous,
        int completedEpochs,
        bool bestImproved,
        double? bestMetric,
        int bestEpoch,
        int epochsWithoutImprovement,
        bool stoppedEarly)
    {
        Directory.CreateDirectory(_folder);
        var modelFile = $"epoch-{completedEpochs:D4}.model";
        var optimizerFile = $"epoch-{completedEpochs:D4}.optimizer";
        AtomicFile.Write(PathOf(modelFile), stream => SaveModel(model, stream));
        AtomicFile.Write(PathOf(optimizerFile), stream =>
        {
            using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
            optimizer.save_state_dict(writer);
        });
        var bestFile = previous?.BestFile;
        if (bestImproved)
        {
            bestFile = $"best-{completedEpochs:D4}.model";
            AtomicFile.Write(PathOf(bestFile), stream => SaveModel(model, stream));
        }

        var state = new CheckpointState(_fingerprint, completedEpochs, modelFile, optimizerFile, bestFile, bestMetric, bestEpoch, epochsWithoutImprovement, stoppedEarly);
        AtomicFile.Write(StatePath, stream => JsonSerializer.Serialize(stream, state, JsonOptions));

        // Only now is nothing pointing at the older files.
        foreach (var stale in new[] { previous?.ModelFile, previous?.OptimizerFile, bestImproved ? previous?.BestFile : null })
        {
            if (stale is not null && stale != modelFile && stale != optimizerFile && stale != bestFile)
            {
                File.Delete(Path.Combine(_folder, stale));
            }
        }

        return state;
    }

    // Module.save(Stream) closes the stream, which AtomicFile still has to flush to disk.
    private static void SaveModel(nn.Module model, Stream stream)
    {
        using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        model.save(writer);
    }
}
