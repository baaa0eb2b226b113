using System.Globalization;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Tests.Export;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Tests.Support;

/// <summary>
/// Model files for tests that need a network but judge something else (scoring, pipelines, loading, training starts):
/// seeded TorchSharp networks written by our own exporter and weights writer, so these tests run without Python. Each
/// file is made once per test run, on first use, and deleted with the run's folder (<see cref="AssemblySetup"/>).
/// Our exporter and writer are judged against PyTorch by the parity tests (PyTorchParityTests, SaveWeightsTests).
/// </summary>
internal static class FixtureModels
{
    /// <summary>The small classifier's labels, in logit order.</summary>
    public static readonly string[] SmallLabels = ["cat", "dog", "bird", "fish", "frog"];

    /// <summary>The small classifier's input side.</summary>
    public const int SmallSize = 64;

    /// <summary>The side of the ImageNet-sized networks.</summary>
    public const int ReferenceSize = 224;

    private static readonly Lazy<TempFolder> RunFolder = new(TempFolder.Create);
    private static readonly Lazy<string> Small = new(MakeSmallOnnx);
    private static readonly Lazy<string> ResNet34Onnx = new(() => Write("resnet34.onnx", ResNetArchitecture.ResNet34, ResNetVariant.TorchVision, ExportOnnx));
    private static readonly Lazy<string> ResNet34PthFile = new(() => Write("resnet34.pth", ResNetArchitecture.ResNet34, ResNetVariant.TorchVision, WritePth));
    private static readonly Lazy<string> ResNet18PthFile = new(() => Write("resnet18.pth", ResNetArchitecture.ResNet18, ResNetVariant.TorchVision, WritePth));
    private static readonly Lazy<string> SeedPthFile = new(() => Write("seed.pth", ResNetArchitecture.ResNet34, ResNetVariant.ProjectionShortcuts, WritePth));

    /// <summary>A seeded ResNet-18 as ONNX: 5 classes (<see cref="SmallLabels"/>), 64x64 input, with the features output.</summary>
    public static string SmallModel() => Small.Value;

    /// <summary>A 1000-class ResNet-34 as ONNX at 224x224 with the features output, BatchNorm statistics measured on the photos.</summary>
    public static string ResNet34() => ResNet34Onnx.Value;

    /// <summary>The same kind of ResNet-34 as a PyTorch state dict under torchvision's keys (1000 classes, no labels).</summary>
    public static string ResNet34Pth() => ResNet34PthFile.Value;

    /// <summary>A 1000-class ResNet-18 as a PyTorch state dict under torchvision's keys.</summary>
    public static string ResNet18Pth() => ResNet18PthFile.Value;

    /// <summary>A 1000-class ResNet-34 of the seed's wiring (projection shortcuts) as a state dict under the seed's own keys.</summary>
    public static string SeedPth() => SeedPthFile.Value;

    /// <summary>A path in the folder this run's fixture files share, deleted when the run ends.</summary>
    public static string RunFile(string name) => RunFolder.Value.File(name);

    /// <summary>"0", "1", ... for a network without labels.</summary>
    public static string[] ClassNames(int count) => Enumerable.Range(0, count).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();

    /// <summary>Deletes the files made in this run.</summary>
    public static void DeleteAll()
    {
        if (RunFolder.IsValueCreated)
        {
            RunFolder.Value.Dispose();
        }
    }

    private static string MakeSmallOnnx()
    {
        var path = RunFile("small.onnx");
        manual_seed(7);
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, SmallLabels.Length));
        model.eval();
        ResNetOnnxExporter.Export(model, path, new OnnxExportOptions { Labels = SmallLabels, InputHeight = SmallSize, InputWidth = SmallSize, IncludeFeatures = true });
        return path;
    }

    private static string Write(string name, ResNetArchitecture architecture, ResNetVariant variant, Action<ResNetModel, string> write)
    {
        var path = RunFile(name);
        using var photos = ExportFixtures.LoadPhotos();
        using var model = ExportFixtures.CalibratedModel(architecture, photos, variant: variant);
        write(model, path);
        return path;
    }

    private static void ExportOnnx(ResNetModel model, string path) =>
        ResNetOnnxExporter.Export(model, path, new OnnxExportOptions { Labels = ClassNames(model.Spec.NumClasses), IncludeFeatures = true });

    /// <summary>The network's own layout: the seed's keys for its wiring, torchvision's otherwise.</summary>
    private static void WritePth(ResNetModel model, string path) =>
        ResNetWeights.Write(NetworkWeights.Capture(model, ClassNames(model.Spec.NumClasses), normalization: null), path, ResNetWeightsFormat.PyTorch);
}
