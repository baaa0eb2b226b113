using ImageClassification.Cli;
using ImageClassification.Commands;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;

namespace Microsoft.ML.ResNet.Tests.Samples;

/// <summary>The sample's <c>export</c> command on a saved pipeline zip: the library's SaveOnnx file, not the zip's internals.</summary>
[TestClass]
public sealed class ExportCommandTests : TempFolderTest
{
    private const int Size = 32;

    [TestMethod]
    public void Run_SavedPipeline_WritesTheClassifiersOnnxFile()
    {
        var (zip, expected) = SavedPipeline();
        var onnx = Path.Combine(Folder, "exported.onnx");
        var (console, text) = PlainConsole.Create();

        var exit = ExportCommand.Run(CommandLineArgs.Parse(["export", "--model", zip, "--output", onnx]), console);

        Assert.AreEqual(0, exit, text.ToString());
        CollectionAssert.AreEqual(expected, File.ReadAllBytes(onnx), "the file SaveOnnx writes");
        using var session = new InferenceSession(onnx);
        CollectionAssert.AreEqual(new[] { OnnxContract.PixelsInput }, session.InputMetadata.Keys.ToArray());
        CollectionAssert.AreEquivalent(
            new[] { OnnxContract.LogitsOutput, OnnxContract.ProbabilitiesOutput, OnnxContract.FeaturesOutput },
            session.OutputMetadata.Keys.ToArray());
        StringAssert.Contains(text.ToString(), "inputs pixels [Nx3x32x32]");
    }

    [TestMethod]
    public void Run_Triton_WritesARepositoryAroundTheClassifiersOnnxFile()
    {
        var (zip, expected) = SavedPipeline();
        var repository = Path.Combine(Folder, "triton");
        var (console, text) = PlainConsole.Create();

        var exit = ExportCommand.Run(CommandLineArgs.Parse(["export", "--model", zip, "--triton", repository]), console);

        Assert.AreEqual(0, exit, text.ToString());
        var model = Path.Combine(repository, "resnet");
        CollectionAssert.AreEqual(expected, File.ReadAllBytes(Path.Combine(model, "1", "model.onnx")), "the file SaveOnnx writes");
        CollectionAssert.AreEqual(new[] { "Bag", "Trouser" }, File.ReadAllLines(Path.Combine(model, "labels.txt")));
        StringAssert.Contains(File.ReadAllText(Path.Combine(model, "config.pbtxt")), "dims: [ 3, 32, 32 ]");
        StringAssert.Contains(text.ToString(), model);
    }

    [TestMethod]
    public void Run_OutputInAMissingFolder_ThrowsNamingThePath()
    {
        var (zip, _) = SavedPipeline();
        var onnx = Path.Combine(Folder, "missing", "exported.onnx");

        var error = Assert.ThrowsExactly<DirectoryNotFoundException>(
            () => ExportCommand.Run(CommandLineArgs.Parse(["export", "--model", zip, "--output", onnx]), PlainConsole.Create().Console));

        StringAssert.Contains(error.Message, onnx);
    }

    [TestMethod]
    public void Run_ZipWithoutAClassifier_ThrowsNamingTheZip()
    {
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(new[] { new TextRow { Text = "a" } });
        var zip = Path.Combine(Folder, "other.zip");
        ml.Model.Save(ml.Transforms.CopyColumns("Copy", "Text").Fit(data), data.Schema, zip);

        var error = Assert.ThrowsExactly<InvalidDataException>(
            () => ExportCommand.Run(CommandLineArgs.Parse(["export", "--model", zip]), PlainConsole.Create().Console));

        StringAssert.Contains(error.Message, zip);
        Assert.IsFalse(File.Exists(Path.ChangeExtension(zip, ".onnx")));
    }

    /// <summary>LoadImages -> ResizeImages -> ExtractPixels -> a 2-class ResNet-18 from our exporter -> MapKeyToValue, saved;
    /// with the bytes the classifier's own SaveOnnx writes.</summary>
    private (string Zip, byte[] Onnx) SavedPipeline()
    {
        var network = Path.Combine(Folder, "network.onnx");
        using (var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 2)))
        {
            ResNetOnnxExporter.Export(model, network, new OnnxExportOptions { Labels = ["Bag", "Trouser"], InputHeight = Size, InputWidth = Size, IncludeFeatures = true });
        }

        var ml = new MLContext(1);
        var images = ml.Data.LoadFromEnumerable(new[] { new ImageRow { ImagePath = Directory.GetFiles(Path.Combine(TestPaths.FashionMnistTrain, "Bag"), "*.png")[0] } });
        var fitted = ml.Transforms.LoadImages("Image", imageFolder: null, nameof(ImageRow.ImagePath))
            .Append(ml.Transforms.ResizeImages("Image", Size, Size))
            .Append(ml.Transforms.ExtractPixels("Pixels", "Image", scaleImage: 1f / 255))
            .Append(ml.Transforms.ResNetClassify(new ResNetClassifierOptions { ModelPath = network }))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"))
            .Fit(images);
        using var disposable = fitted as IDisposable;
        var zip = Path.Combine(Folder, "model.zip");
        ml.Model.Save(fitted, images.Schema, zip);
        using var bytes = new MemoryStream();
        fitted.OfType<ResNetClassifierTransformer>().Single().SaveOnnx(bytes);
        File.Delete(network);
        return (zip, bytes.ToArray());
    }

    private sealed class ImageRow
    {
        public string ImagePath { get; set; } = string.Empty;
    }

    private sealed class TextRow
    {
        public string Text { get; set; } = string.Empty;
    }
}
