using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;

namespace Microsoft.ML.ResNet.Tests.Samples;

/// <summary>A model.zip like the sample's <c>train</c> writes, made in seconds: a 2-class ResNet-18 from our exporter.</summary>
internal static class SavedPipeline
{
    public const int Size = 32;

    /// <summary>
    /// LoadImages -> ResizeImages -> ExtractPixels -> the classifier -> MapKeyToValue, saved as <c>model.zip</c> in
    /// <paramref name="folder"/>; with the bytes the classifier's own SaveOnnx writes.
    /// </summary>
    public static (string Zip, byte[] Onnx) Create(string folder)
    {
        var network = Path.Combine(folder, "network.onnx");
        using (var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 2)))
        {
            ResNetOnnxExporter.Export(model, network, new OnnxExportOptions { Labels = ["Bag", "Trouser"], InputHeight = Size, InputWidth = Size, IncludeFeatures = true });
        }

        var ml = new MLContext(1);
        var images = ImagePipeline.Paths(ml, [Directory.GetFiles(Path.Combine(TestPaths.FashionMnistTrain, "Bag"), "*.png")[0]]);
        var fitted = ImagePipeline.PixelPipeline(ml, Size, pixelsColumn: "Features")
            .Append(ml.Transforms.ResNetClassify(new ResNetClassifierOptions { ModelPath = network }))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"))
            .Fit(images);
        using var disposable = fitted as IDisposable;
        var zip = Path.Combine(folder, "model.zip");
        ml.Model.Save(fitted, images.Schema, zip);
        using var bytes = new MemoryStream();
        fitted.OfType<ResNetClassifierTransformer>().Single().SaveOnnx(bytes);
        File.Delete(network);
        return (zip, bytes.ToArray());
    }
}
