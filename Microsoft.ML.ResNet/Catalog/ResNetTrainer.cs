using Microsoft.ML.ResNet.Catalog;
using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet;

/// <summary>
/// Trains a ResNet image classifier in TorchSharp (from scratch or from imported weights), exports it to
/// ONNX with the label names, and returns the same scoring transformer as <c>ResNet34Classify</c>.
/// Create it with <see cref="ResNetTrainerCatalog"/>'s <c>ResNet34</c> or <c>ResNet</c> verbs.
/// </summary>
/// <example>See Microsoft.ML.ResNet.Tests/Catalog/ResNetTrainerTests.cs.</example>
public sealed partial class ResNetTrainer
{
    private readonly TrainerHost _host;
    private readonly ResNetTrainerOptions _options;

    internal ResNetTrainer(TrainerHost host, ResNetTrainerOptions options)
    {
        _host = host;
        _options = options.Clone();
        TrainerOptionsResolver.Validate(_options);
    }

    /// <summary>A copy of the options this trainer uses.</summary>
    public ResNetTrainerOptions Options => _options.Clone();

    /// <summary>Checks the data, trains and returns the network (not yet exported).</summary>
    internal TrainedClassifier Train(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var labels = TrainingSchema.Check(input.Schema, _options, nameof(input));
        if (_options.ValidationData is { } validationData)
        {
            TrainingSchema.CheckValidation(validationData.Schema, _options, labels);
        }

        var seed = _options.Seed ?? _host.NextSeed();
        var settings = TrainerOptionsResolver.Resolve(_options, seed);
        var device = _options.GpuDeviceId is { } gpu
            ? TrainingDevice.Resolve(gpu, _options.FallbackToCpu)
            : TrainingDevice.Resolve(_host.GpuDeviceId, _host.FallbackToCpu);

        manual_seed(seed);
        var model = new ResNetModel(new ResNetSpec(settings.Architecture, labels.Count));
        try
        {
            if (_options.PretrainedWeightsPath is { } weights)
            {
                ResNetWeights.Load(model, weights, freshHead: true);
            }

            var split = settings.ValidationFraction > 0;
            var training = new BatchFeeder(input, _options.FeatureColumnName, _options.LabelColumnName, settings, split ? DataSplit.Training : DataSplit.All);
            var validation = _options.ValidationData is { } data
                ? new BatchFeeder(data, _options.FeatureColumnName, _options.LabelColumnName, settings, DataSplit.All)
                : split ? new BatchFeeder(input, _options.FeatureColumnName, _options.LabelColumnName, settings, DataSplit.Holdout) : null;
            var progress = _options.Progress ?? (p => _host.Info(p.ToString()));
            var outcome = new ResNetTrainingLoop(settings, device, progress).Train(model, training, validation, _options.CancellationToken);
            model.to(CPU);
            return new TrainedClassifier(model, labels, settings, outcome);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
