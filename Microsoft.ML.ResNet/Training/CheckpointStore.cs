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
    private readonly int _seed;
    private readonly int _epochs;

    /// <param name="folder">The checkpoint folder.</param>
    /// <param name="fingerprint">The run's <see cref="TrainingSettings.Fingerprint"/>.</param>
    /// <param name="seed">The run's seed, which must equal the checkpoint's.</param>
    /// <param name="epochs">The run's epoch count, which may differ from the checkpoint's but not fall below its finished epochs.</param>
    public CheckpointStore(string folder, string fingerprint, int seed, int epochs)
    {
        _folder = folder;
        _fingerprint = fingerprint;
        _seed = seed;
        _epochs = epochs;
    }

    public string StatePath => Path.Combine(_folder, StateFileName);

    /// <summary>
    /// The seed of the checkpoint in <paramref name="folder"/>, or null when there is none: a run without an
    /// explicit seed resumes with it (a seed drawn from a new MLContext would differ from the interrupted run's).
    /// </summary>
    /// <exception cref="InvalidOperationException">The state file is not a checkpoint.</exception>
    public static int? SeedOf(string? folder)
    {
        if (folder is null)
        {
            return null;
        }

        var path = Path.Combine(folder, StateFileName);
        return File.Exists(path) ? Deserialize(path).Seed : null;
    }

    /// <summary>The last checkpoint, or null when the folder has none.</summary>
    /// <exception cref="InvalidOperationException">The checkpoint belongs to a run with different settings or another seed,
    /// has more finished epochs than this run asks for, or its files are missing.</exception>
    public CheckpointState? TryRead()
    {
        if (!File.Exists(StatePath))
        {
            return null;
        }

        var state = Deserialize(StatePath);
        if (state.Fingerprint != _fingerprint)
        {
            throw new InvalidOperationException(
                $"Checkpoint folder '{_folder}' holds a run with different settings (checkpoint: {state.Fingerprint}; this run: {_fingerprint}). Use another folder or delete it to start over.");
        }

        if (state.Seed != _seed)
        {
            throw new InvalidOperationException(
                $"Checkpoint folder '{_folder}' holds a run with seed {state.Seed}; this run has Seed = {_seed}. Leave Seed unset (or set it to {state.Seed}) to resume, or use another folder to start over.");
        }

        if (state.CompletedEpochs > _epochs)
        {
            throw new InvalidOperationException(
                $"Checkpoint folder '{_folder}' holds {state.CompletedEpochs} finished epochs; this run asks for Epochs = {_epochs}. Ask for {state.CompletedEpochs} or more epochs to resume, or use another folder to start over.");
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

    private static CheckpointState Deserialize(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<CheckpointState>(File.ReadAllText(path))
                ?? throw new InvalidOperationException($"Checkpoint '{path}' is empty.");
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException($"Checkpoint '{path}' is not a checkpoint state file: {e.Message}", e);
        }
    }

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
        bool stoppedEarly,
        int scheduleStartEpoch,
        int scheduleEndEpoch)
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

        var state = new CheckpointState(
            _fingerprint, completedEpochs, modelFile, optimizerFile, bestFile, bestMetric, bestEpoch, epochsWithoutImprovement, stoppedEarly, _seed, scheduleStartEpoch, scheduleEndEpoch);
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
