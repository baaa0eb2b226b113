using Microsoft.ML.ResNet.Modeling;

namespace Microsoft.ML.ResNet.Training;

/// <summary>
/// The weights a training run starts from, read once: the user's file, or the ImageNet network of ML.NET's featurizer
/// package when ImageNet weights are asked for without a file. Owns the file's tensors: dispose it.
/// </summary>
internal sealed class PretrainedStart : IDisposable
{
    private readonly WeightsFile _file;

    private PretrainedStart(WeightsFile file, string description)
    {
        _file = file;
        Description = description;
    }

    /// <summary>Where the weights come from, for progress messages.</summary>
    public string Description { get; }

    /// <summary>Opens the weights <paramref name="options"/> ask for, or returns null for random initialization.</summary>
    /// <exception cref="InvalidOperationException">ImageNet weights were asked for, no file was given, and the featurizer
    /// package's network is not beside the application; the message names both ways to provide them.</exception>
    /// <exception cref="InvalidDataException">The file cannot be read as weights.</exception>
    public static PretrainedStart? Open(ResNetTrainerOptions options) => Open(options, AppContext.BaseDirectory);

    /// <summary>As <see cref="Open(ResNetTrainerOptions)"/>, looking for the featurizer package's network in <paramref name="applicationFolder"/>.</summary>
    internal static PretrainedStart? Open(ResNetTrainerOptions options, string applicationFolder)
    {
        if (options.PretrainedWeightsPath is { } path)
        {
            return new PretrainedStart(WeightsFile.Read(path), $"weights '{path}'");
        }

        if (options.StartingWeights != ResNetStartingWeights.ImageNet)
        {
            return null;
        }

        var packaged = FeaturizerPackage.FindResNet18Onnx(applicationFolder) ?? throw new InvalidOperationException(
            $"StartingWeights = ImageNet needs ImageNet weights, and none were found. Either set PretrainedWeightsPath to torchvision's " +
            $"ImageNet weights of {options.Architecture} (a .pth or .safetensors file), or reference the NuGet package " +
            $"{FeaturizerPackage.PackageId} in the application's project so that '{FeaturizerPackage.RelativeOnnxPath}' is copied " +
            $"beside it (looked for it in '{applicationFolder}').");
        return new PretrainedStart(WeightsFile.Read(packaged), $"ImageNet weights of {FeaturizerPackage.PackageId}");
    }

    /// <summary>
    /// The settings with what the file prescribes: the network's shape when the file describes it (an ONNX ResNet, our
    /// safetensors, the seed's keys), else the wiring its keys show (a projection shortcut on layer1 is the seed's), and the
    /// input normalization its weights were trained with when the file records it.
    /// </summary>
    public TrainingSettings ApplyTo(TrainingSettings settings)
    {
        settings = _file.DescribedSpec is { } spec
            ? settings with { Architecture = spec.Architecture, StageDepths = spec.StageDepths?.ToArray(), Variant = spec.Variant }
            : settings with { Variant = _file.Variant };

        return _file.Normalization is { } normalization
            ? settings with { Mean = [.. normalization.Mean], Std = [.. normalization.Std] }
            : settings;
    }

    /// <summary>Copies the weights into <paramref name="model"/>, keeping its fresh head; every key and shape is checked first.</summary>
    /// <exception cref="InvalidDataException">The file does not fit the model.</exception>
    public void LoadInto(ResNetModel model) => ResNetWeights.Apply(model, _file, freshHead: true);

    public void Dispose() => _file.Dispose();
}
