using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Tests.Export;
using Microsoft.ML.ResNet.Tests.Scoring;

namespace Microsoft.ML.ResNet.Tests.Serving;

/// <summary>
/// A small saved model for the serving tests, built like the sample's model.zip (LoadImages, ResizeImages, ExtractPixels,
/// then the classifier) from a seeded ResNet-18 with calibrated BatchNorm statistics, 32x32 input, one class per
/// committed photo. Written once per test run beside <see cref="FixtureModels"/>' files; no PyTorch needed.
/// </summary>
internal static class ServingFixtures
{
    public const int Size = 32;

    private static readonly object Gate = new();
    private static string? _modelZip;

    /// <summary>The photos' names, used as the model's labels.</summary>
    public static string[] Labels => ImagePipeline.PhotoPaths().Select(Path.GetFileNameWithoutExtension).ToArray()!;

    /// <summary>The path of the model zip (built on first use).</summary>
    public static string ModelZip()
    {
        lock (Gate)
        {
            if (_modelZip is not null && File.Exists(_modelZip))
            {
                return _modelZip;
            }

            var onnx = FixtureModels.RunFile("serving-model.onnx");
            using (var photos = ExportFixtures.LoadPhotos())
            using (var network = ExportFixtures.CalibratedModel(ResNetArchitecture.ResNet18, photos, classes: Labels.Length, seed: 12))
            {
                ResNetOnnxExporter.Export(network, onnx, new OnnxExportOptions { Labels = Labels, InputHeight = Size, InputWidth = Size });
            }

            var ml = new MLContext(1);
            var images = ImagePipeline.Photos(ml);
            var pipeline = ImagePipeline.PixelPipeline(ml, Size)
                .Append(ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = onnx }));
            var model = pipeline.Fit(images);
            var zip = FixtureModels.RunFile("serving-model.zip");
            ml.Model.Save(model, images.Schema, zip);
            (model as IDisposable)?.Dispose();
            _modelZip = zip;
            return zip;
        }
    }
}
