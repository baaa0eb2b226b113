using Microsoft.ML.ResNet.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Training;

/// <summary>
/// One run of the public trainer once its data is checked: the seed, the device, the network (fresh or from a
/// pretrained file), the data feeders and the loop. What it needs of the MLContext comes in as plain values.
/// </summary>
internal static class ClassifierTraining
{
    /// <param name="input">Training data whose schema the caller has checked.</param>
    /// <param name="labels">The label column's class names, in key order.</param>
    /// <param name="options">The trainer's validated options.</param>
    /// <param name="placement">Where to train, after the GPU rule.</param>
    /// <param name="drawSeed">Draws a seed from the context's random source.</param>
    /// <param name="log">The context's informational log.</param>
    /// <returns>The trained network on the CPU; the caller disposes it.</returns>
    public static TrainedClassifier Train(
        IDataView input, IReadOnlyList<string> labels, ResNetTrainerOptions options, DevicePlacement placement, Func<int> drawSeed, Action<string> log)
    {
        // Drawn even when a checkpoint supplies the seed, so the context's later draws do not depend on whether this run resumed.
        var drawn = options.Seed is null ? drawSeed() : 0;
        var seed = options.Seed ?? CheckpointStore.SeedOf(options.CheckpointFolder) ?? drawn;
        var device = TrainingDevice.Resolve(placement);

        using var gate = TrainingGate.Enter(options.CancellationToken);
        var (settings, model) = CreateModel(options, seed, labels.Count, log);
        try
        {
            var split = settings.ValidationFraction > 0;
            var training = new BatchFeeder(input, options.FeatureColumnName, options.LabelColumnName, settings, split ? DataSplit.Training : DataSplit.All);
            var validation = options.ValidationData is { } data
                ? new BatchFeeder(data, options.FeatureColumnName, options.LabelColumnName, settings, DataSplit.All)
                : split ? new BatchFeeder(input, options.FeatureColumnName, options.LabelColumnName, settings, DataSplit.Holdout) : null;
            var progress = options.Progress ?? (p => log(p.ToString()));
            var outcome = new ResNetTrainingLoop(settings, device, progress).Train(model, training, validation, options.CancellationToken);
            model.to(CPU);
            return new TrainedClassifier(model, labels, settings, outcome);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Resolves the settings and builds the seeded network, starting from the pretrained file when one is asked for.
    /// The file's tensors are freed here, before training: they would otherwise hold a second copy of the weights.
    /// </summary>
    private static (TrainingSettings Settings, ResNetModel Model) CreateModel(ResNetTrainerOptions options, int seed, int classes, Action<string> log)
    {
        using var start = PretrainedStart.Open(options);
        var settings = TrainerOptionsResolver.Resolve(options, seed);
        if (start is not null)
        {
            settings = start.ApplyTo(settings);
            if (options.Variant is { } asked && asked != settings.Variant)
            {
                throw new ArgumentException(
                    $"{start.Description} holds a network of the {settings.Variant} variant, not {asked}. Leave Variant null to take the file's.",
                    nameof(ResNetTrainerOptions.Variant));
            }

            TrainerOptionsResolver.CheckInputSize(settings.Variant, settings.ImageHeight, settings.ImageWidth);
            log($"Starting from {start.Description}: {settings.Architecture}{(settings.StageDepths is { } depths ? $" with stages {string.Join('/', depths)}" : string.Empty)}.");
        }

        manual_seed(seed);
        var model = new ResNetModel(new ResNetSpec(settings.Architecture, classes, settings.Variant, StageDepths: settings.StageDepths));
        try
        {
            start?.LoadInto(model);
            return (settings, model);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
