using ImageClassification.Cli;
using ImageClassification.Commands;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.ResNet.Export;

namespace Microsoft.ML.ResNet.Tests.Samples;

/// <summary>The sample's <c>export</c> command on a saved pipeline zip: the library's SaveOnnx file, not the zip's internals.</summary>
[TestClass]
public sealed class ExportCommandTests : TempFolderTest
{
    [TestMethod]
    public void Run_SavedPipeline_WritesTheClassifiersOnnxFile()
    {
        var (zip, expected) = SavedPipeline.Create(Folder);
        var onnx = Path.Combine(Folder, "exported.onnx");
        var (console, text) = PlainConsole.Create();

        var exit = new ExportCommand(console).Run(new ExportCommandSettings { Model = zip, Output = onnx });

        Assert.AreEqual(0, exit, text.ToString());
        CollectionAssert.AreEqual(expected, File.ReadAllBytes(onnx), "the file SaveOnnx writes");
        using var session = new InferenceSession(onnx);
        CollectionAssert.AreEqual(new[] { OnnxContract.PixelsInput }, session.InputMetadata.Keys.ToArray());
        CollectionAssert.AreEquivalent(
            new[] { OnnxContract.LogitsOutput, OnnxContract.ProbabilitiesOutput, OnnxContract.FeaturesOutput },
            session.OutputMetadata.Keys.ToArray());
        StringAssert.Contains(text.ToString(), "inputs pixels [Nx3x32x32]");
    }

    /// <summary><c>export --int8</c>: model.int8.onnx and model.int8.zip next to the model; the zip loads in stock ML.NET and,
    /// through the library's loader, is the INT8 classifier.</summary>
    [TestMethod]
    public void Run_Int8_WritesInt8OnnxAndZipNextToTheModel()
    {
        var (zip, _) = SavedPipeline.Create(Folder);
        var (console, text) = PlainConsole.Create();

        var exit = new ExportCommand(console).Run(new ExportCommandSettings { Model = zip, Int8 = true, Data = TestPaths.FashionMnistTrain });

        Assert.AreEqual(0, exit, text.ToString());
        var int8Zip = Path.Combine(Folder, "model.int8.zip");
        Assert.IsTrue(File.Exists(Path.Combine(Folder, "model.int8.onnx")), text.ToString());
        StringAssert.Contains(text.ToString(), "calibrated on 200 images");
        var ml = new MLContext(1);
        var images = ImagePipeline.Paths(ml, Directory.GetFiles(Path.Combine(TestPaths.FashionMnistTest, "Bag"), "*.png").Take(5));
        var stock = ml.Model.Load(int8Zip, out _);
        Assert.AreEqual(5, stock.Transform(images).GetColumn<string>("PredictedLabel").Count(l => l is "Bag" or "Trouser"));
        (stock as IDisposable)?.Dispose();
        var reopened = ResNetClassifierTransformer.Load(ml, int8Zip);
        using var disposable = reopened as IDisposable;
        var classifier = ((IEnumerable<ITransformer>)reopened).OfType<ResNetClassifierTransformer>().Single();
        Assert.AreEqual("int8-qdq;calibration=minmax;rows=200", classifier.Quantization);
    }

    [TestMethod]
    public void Run_Triton_WritesARepositoryAroundTheClassifiersOnnxFile()
    {
        var (zip, expected) = SavedPipeline.Create(Folder);
        var repository = Path.Combine(Folder, "triton");
        var (console, text) = PlainConsole.Create();

        var exit = new ExportCommand(console).Run(new ExportCommandSettings { Model = zip, Triton = repository });

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
        var (zip, _) = SavedPipeline.Create(Folder);
        var onnx = Path.Combine(Folder, "missing", "exported.onnx");

        var error = Assert.ThrowsExactly<DirectoryNotFoundException>(
            () => new ExportCommand(PlainConsole.Create().Console).Run(new ExportCommandSettings { Model = zip, Output = onnx }));

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
            () => new ExportCommand(PlainConsole.Create().Console).Run(new ExportCommandSettings { Model = zip }));

        StringAssert.Contains(error.Message, zip);
        Assert.IsFalse(File.Exists(Path.ChangeExtension(zip, ".onnx")));
    }

    private sealed class TextRow
    {
        public string Text { get; set; } = string.Empty;
    }
}
