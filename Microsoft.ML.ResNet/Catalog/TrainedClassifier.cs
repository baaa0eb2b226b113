using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Training;

namespace Microsoft.ML.ResNet.Catalog;

/// <summary>A trained network with the labels of its outputs, before export. Owns the model: dispose it.</summary>
internal sealed record TrainedClassifier(ResNetModel Model, IReadOnlyList<string> Labels, TrainingSettings Settings, TrainingOutcome Outcome) : IDisposable
{
    public void Dispose() => Model.Dispose();
}
