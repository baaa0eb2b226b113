namespace Microsoft.ML.ResNet.Modeling;

/// <summary>
/// Where ML.NET's <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c> package puts its ImageNet ResNet-18 (ONNX): its build
/// props copy <c>tools/DnnImageModels/**</c> next to the binaries of any project that references the package.
/// </summary>
internal static class FeaturizerPackage
{
    /// <summary>The package that ships the network.</summary>
    public const string PackageId = "Microsoft.ML.DnnImageFeaturizer.ResNet18";

    /// <summary>The network's path relative to the application's folder.</summary>
    public const string RelativeOnnxPath = "DnnImageModels/ResNet18Onnx/ResNet18.onnx";

    /// <summary>The network beside the application, or null when the package is not referenced.</summary>
    /// <param name="applicationFolder">Where to look; null means the application's own folder.</param>
    public static string? FindResNet18Onnx(string? applicationFolder = null)
    {
        var path = Path.Combine(applicationFolder ?? AppContext.BaseDirectory, RelativeOnnxPath);
        return File.Exists(path) ? path : null;
    }

    /// <summary>The preprocessing graph that belongs with <paramref name="networkPath"/> in the package's layout, or null.</summary>
    public static string? FindPreprocessFor(string networkPath)
    {
        var models = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetFullPath(networkPath)));
        if (models is null)
        {
            return null;
        }

        var path = Path.Combine(models, "ResNetPrepOnnx", "ResNetPreprocess.onnx");
        return File.Exists(path) ? path : null;
    }
}
