using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.ResNet.IO;
using Microsoft.ML.ResNet.Modeling;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Training;

/// <summary>
/// Epoch checkpoints in a folder. Tensor files carry the epoch in their name and are written (temp file,
/// then rename) before <see cref="StateFileName"/> is atomically replaced to point at them; older files go
/// only after that. A crash or cancellation at any moment therefore leaves a complete previous checkpoint.
/// </summary>
internal sealed partial class CheckpointStore
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
    /// <exception cref="InvalidDataException"><see cref="StateFileName"/> is not valid JSON, or names a file this store
    /// does not write (an absolute path, a "..", another folder): names from it are opened and later deleted.</exception>
    public CheckpointState? TryRead()
    {
        if (!File.Exists(StatePath))
        {
            return null;
        }

        var state = Deserialize(StatePath);
        RequireOwnFileName(state.ModelFile, ModelFilePattern(), nameof(state.ModelFile));
        RequireOwnFileName(state.OptimizerFile, OptimizerFilePattern(), nameof(state.OptimizerFile));
        if (state.BestFile is not null)
        {
            RequireOwnFileName(state.BestFile, BestFilePattern(), nameof(state.BestFile));
        }

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
                ?? throw new InvalidDataException($"Checkpoint '{path}' is empty.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Checkpoint '{path}' is damaged: {e.Message}", e);
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
        var bestFile = bestImproved ? $"best-{completedEpochs:D4}.model" : previous?.BestFile;
        var state = new CheckpointState(
            _fingerprint, completedEpochs, modelFile, optimizerFile, bestFile, bestMetric, bestEpoch, epochsWithoutImprovement, stoppedEarly, _seed, scheduleStartEpoch, scheduleEndEpoch);
        var written = new List<string>();
        try
        {
            WriteFile(modelFile, stream => SaveModel(model, stream), written);
            WriteFile(optimizerFile, stream =>
            {
                using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
                optimizer.save_state_dict(writer);
            }, written);
            if (bestImproved)
            {
                WriteFile(bestFile!, stream => SaveModel(model, stream), written);
            }

            AtomicFile.Write(StatePath, stream => JsonSerializer.Serialize(stream, state, JsonOptions));
        }
        catch
        {
            // checkpoint.json still points at the previous epoch's files; this epoch's would only fill the disk.
            foreach (var file in written.Where(f => f != previous?.ModelFile && f != previous?.OptimizerFile && f != previous?.BestFile))
            {
                TryDelete(PathOf(file));
            }

            throw;
        }

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

    private void WriteFile(string file, Action<Stream> write, List<string> written)
    {
        written.Add(file);
        AtomicFile.Write(PathOf(file), write);
    }

    private void RequireOwnFileName(string? name, Regex pattern, string field)
    {
        if (name is null || !pattern.IsMatch(name))
        {
            throw new InvalidDataException(
                $"Checkpoint '{StatePath}' has {field} = '{name}', expected a file name this store writes (like 'epoch-0003.model', 'epoch-0003.optimizer', 'best-0003.model') inside '{_folder}'.");
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The write's own failure is the one to report.
        }
    }

    [GeneratedRegex(@"\Aepoch-[0-9]{4,9}\.model\z", RegexOptions.CultureInvariant)]
    private static partial Regex ModelFilePattern();

    [GeneratedRegex(@"\Aepoch-[0-9]{4,9}\.optimizer\z", RegexOptions.CultureInvariant)]
    private static partial Regex OptimizerFilePattern();

    [GeneratedRegex(@"\Abest-[0-9]{4,9}\.model\z", RegexOptions.CultureInvariant)]
    private static partial Regex BestFilePattern();

    // Module.save(Stream) closes the stream, which AtomicFile still has to flush to disk.
    private static void SaveModel(nn.Module model, Stream stream)
    {
        using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        model.save(writer);
    }
}
