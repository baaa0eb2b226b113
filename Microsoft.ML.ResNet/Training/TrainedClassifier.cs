using Microsoft.ML.ResNet.Modeling;

namespace Microsoft.ML.ResNet.Training;

/// <summary>A trained network with the labels of its outputs, before export. Owns the model: dispose it.</summary>
internal sealed record TrainedClassifier(ResNetModel Model, IReadOnlyList<string> Labels, TrainingSettings Settings, TrainingOutcome Outcome) : IDisposable
{
    public void Dispose() => Model.Dispose();
}
