using System.Text.Json;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Tests.Scoring;
using Microsoft.ML.ResNet.Tests.Training;

namespace Microsoft.ML.ResNet.Tests.Catalog;

/// <summary>
/// <see cref="ResNetClassifierTransformer.SaveOnnx(string)"/> and its stream overload: the file passes onnx.checker's full
/// check, a bare ONNX Runtime session on it gives the transformer's Score, the metadata describes it, and bad targets
/// fail with the path named and nothing half-written.
/// </summary>
[TestClass]
public sealed class SaveOnnxTests : TempFolderTest
{
    private const float ScoreTolerance = 1e-5f;
    private const int SmallSize = 32;

    private static readonly string[] ContractOutputs = [OnnxContract.LogitsOutput, OnnxContract.ProbabilitiesOutput, OnnxContract.FeaturesOutput];
    private static readonly string[] ReferenceLabels = Enumerable.Range(0, 1000).Select(i => $"class{i:000}").ToArray();

    /// <summary>A 1000-class ResNet-18 .pth under torchvision's keys, scored on the committed photographs at 224x224.</summary>
    [TestMethod]
    public void SaveOnnx_FromPthWeights_ScoresThePhotosLikeTheTransformer()
    {
        var ml = new MLContext(1);
        var pixels = ImagePipeline.PhotoPixels(ml, FixtureModels.ReferenceSize);
        using var transformer = FromResNet18Pth(ml, pixels);
        var path = Path.Combine(Folder, "resnet18.onnx");

        transformer.SaveOnnx(path);

        var expected = ScoringFixtures.Scores(transformer.Transform(pixels));
        var actual = RunProbabilities(path, pixels.GetColumn<float[]>(ImagePipeline.PixelsColumn).ToArray(), FixtureModels.ReferenceSize);
        Assert.IsTrue(expected.All(row => row.Max() > 10f / ReferenceLabels.Length), "the photos score far from uniform, so the comparison means something");
        Assert.IsLessThanOrEqualTo(ScoreTolerance, ScoringFixtures.MaxDifference(expected, actual), "ONNX Runtime on the file vs the transformer's Score");
        AssertMetadata(path, ReferenceLabels, "ResNet18", FixtureModels.ReferenceSize, [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f]);
        CollectionAssert.AreEqual(new[] { "[2,2,2,2]" }, new[] { Metadata(path)[OnnxContract.Metadata.StageDepths] });
    }

    [TestMethod]
    public void SaveOnnx_FromPthWeights_PassesOnnxFullCheck()
    {
        PythonReference.RequireModule("onnx");
        var ml = new MLContext(1);
        var pixels = ImagePipeline.PhotoPixels(ml, FixtureModels.ReferenceSize);
        using var transformer = FromResNet18Pth(ml, pixels);
        var path = Path.Combine(Folder, "resnet18.onnx");

        transformer.SaveOnnx(path);

        PythonReference.CheckOnnx(path);
    }

    /// <summary>What the trainer returns: a one-epoch ResNet-18 on twelve committed Fashion-MNIST images at 32x32.</summary>
    [TestMethod]
    public void SaveOnnx_TrainedOnCommittedImages_ScoresLikeTheTransformerAndSurvivesTheZip()
    {
        var ml = new MLContext(1);
        var data = CommittedImages(ml, ["Bag", "Sneaker", "Trouser"], perLabel: 4);
        using var transformer = ml.MulticlassClassification.Trainers.ResNet(ResNetTrainingLoopTests.SmallOptions()).Fit(data);
        var path = Path.Combine(Folder, "trained.onnx");

        transformer.SaveOnnx(path);

        var expected = ScoringFixtures.Scores(transformer.Transform(data));
        var actual = RunProbabilities(path, data.GetColumn<float[]>(TrainingData.Features).ToArray(), SmallSize);
        Assert.IsLessThanOrEqualTo(ScoreTolerance, ScoringFixtures.MaxDifference(expected, actual), "ONNX Runtime on the file vs the transformer's Score");
        AssertMetadata(path, ["Bag", "Sneaker", "Trouser"], "ResNet18", SmallSize, [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f]);

        // The zip's copy of the graph has its input renamed and flattened outputs for ML.NET's OnnxTransformer;
        // reopened and exported again, it is the same file byte for byte.
        var zip = Path.Combine(Folder, "model.zip");
        ml.Model.Save(transformer, data.Schema, zip);
        using var reopened = (ResNetClassifierTransformer)ResNetClassifierTransformer.Load(ml, zip);
        var again = Path.Combine(Folder, "from-zip.onnx");
        reopened.SaveOnnx(again);
        CollectionAssert.AreEqual(File.ReadAllBytes(path), File.ReadAllBytes(again), "export after a zip round trip");

        // The stream overload writes the same bytes after what the stream held, and leaves the stream open.
        using var stream = new MemoryStream();
        stream.Write([1, 2, 3]);
        transformer.SaveOnnx(stream);
        Assert.IsTrue(stream.CanWrite, "the caller's stream stays open");
        CollectionAssert.AreEqual(new byte[] { 1, 2, 3 }.Concat(File.ReadAllBytes(path)).ToArray(), stream.ToArray());
    }

    [TestMethod]
    public void SaveOnnx_TrainedOnCommittedImages_PassesOnnxFullCheck()
    {
        PythonReference.RequireModule("onnx");
        var ml = new MLContext(1);
        var data = CommittedImages(ml, ["Bag", "Sneaker", "Trouser"], perLabel: 4);
        using var transformer = ml.MulticlassClassification.Trainers.ResNet(ResNetTrainingLoopTests.SmallOptions()).Fit(data);
        var path = Path.Combine(Folder, "trained.onnx");

        transformer.SaveOnnx(path);

        PythonReference.CheckOnnx(path);
    }

    /// <summary>A graph a zip gave back (input renamed, outputs flattened for ML.NET): only the contract's parts leave.</summary>
    [TestMethod]
    public void SaveOnnx_ReopenedFromZip_WritesInputPixelsAndOnlyTheContractOutputs()
    {
        var ml = new MLContext(1);
        var pixels = ImagePipeline.PhotoPixels(ml, FixtureModels.SmallSize);
        using var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = FixtureModels.SmallModel() }).Fit(pixels);
        var zip = Path.Combine(Folder, "model.zip");
        ml.Model.Save(transformer, pixels.Schema, zip);
        using var reopened = (ResNetClassifierTransformer)ResNetClassifierTransformer.Load(ml, zip);
        var path = Path.Combine(Folder, "model.onnx");

        reopened.SaveOnnx(path);

        using var session = new InferenceSession(path);
        CollectionAssert.AreEqual(new[] { OnnxContract.PixelsInput }, session.InputMetadata.Keys.ToArray());
        CollectionAssert.AreEquivalent(ContractOutputs, session.OutputMetadata.Keys.ToArray());
        Assert.IsFalse(session.ModelMetadata.CustomMetadataMap.Keys.Any(k => k.StartsWith("resnetml", StringComparison.Ordinal)), "no save settings in the file");
        var expected = ScoringFixtures.Scores(transformer.Transform(pixels));
        var actual = RunProbabilities(path, pixels.GetColumn<float[]>("Pixels").ToArray(), FixtureModels.SmallSize);
        Assert.IsLessThanOrEqualTo(ScoreTolerance, ScoringFixtures.MaxDifference(expected, actual));
    }

    [TestMethod]
    public void SaveOnnx_Disposed_ThrowsNamingThePathAndWritesNothing()
    {
        var transformer = SmallTransformer();
        transformer.Dispose();
        var path = Path.Combine(Folder, "model.onnx");

        var error = Assert.ThrowsExactly<ObjectDisposedException>(() => transformer.SaveOnnx(path));

        StringAssert.Contains(error.Message, path);
        Assert.ThrowsExactly<ObjectDisposedException>(() => transformer.SaveOnnx(new MemoryStream()));
        Assert.IsEmpty(Directory.GetFileSystemEntries(Folder));
    }

    [TestMethod]
    public void SaveOnnx_MissingFolder_ThrowsNamingThePathAndCreatesNothing()
    {
        using var transformer = SmallTransformer();
        var path = Path.Combine(Folder, "missing", "model.onnx");

        var error = Assert.ThrowsExactly<DirectoryNotFoundException>(() => transformer.SaveOnnx(path));

        StringAssert.Contains(error.Message, path);
        Assert.IsEmpty(Directory.GetFileSystemEntries(Folder));
    }

    [TestMethod]
    public void SaveOnnx_PathIsAFolder_ThrowsNamingThePathAndLeavesTheFolder()
    {
        using var transformer = SmallTransformer();
        var path = Path.Combine(Folder, "model.onnx");
        Directory.CreateDirectory(path);

        var error = Assert.ThrowsExactly<IOException>(() => transformer.SaveOnnx(path));

        StringAssert.Contains(error.Message, path);
        Assert.IsTrue(Directory.Exists(path));
        CollectionAssert.AreEqual(new[] { path }, Directory.GetFileSystemEntries(Folder), "no temp file is left behind");
    }

    [TestMethod]
    public void SaveOnnx_PathUnderAFile_ThrowsNamingThePath()
    {
        using var transformer = SmallTransformer();
        var file = Path.Combine(Folder, "notes.txt");
        File.WriteAllText(file, "a file, not a folder");
        var path = Path.Combine(file, "model.onnx");

        var error = Assert.ThrowsExactly<IOException>(() => transformer.SaveOnnx(path));

        StringAssert.Contains(error.Message, path);
        StringAssert.Contains(error.Message, "is a file");
        Assert.AreEqual("a file, not a folder", File.ReadAllText(file));
    }

    [TestMethod]
    public void SaveOnnx_ReadOnlyTarget_ThrowsNamingThePathAndKeepsTheFile()
    {
        using var transformer = SmallTransformer();
        var path = Path.Combine(Folder, "model.onnx");
        File.WriteAllText(path, "keep me");
        File.SetAttributes(path, FileAttributes.ReadOnly);  // on Unix: no write bit for anyone (mode 0444)

        var error = Assert.ThrowsExactly<UnauthorizedAccessException>(() => transformer.SaveOnnx(path));

        StringAssert.Contains(error.Message, path);
        Assert.AreEqual("keep me", File.ReadAllText(path));
        CollectionAssert.AreEqual(new[] { path }, Directory.GetFileSystemEntries(Folder), "no temp file is left behind");
    }

    [TestMethod]
    public void SaveOnnx_ExistingFile_ReplacedByTheModelWithNoTempLeft()
    {
        using var transformer = SmallTransformer();
        var path = Path.Combine(Folder, "model.onnx");
        File.WriteAllText(path, "old");

        transformer.SaveOnnx(path);

        using var session = new InferenceSession(path);
        CollectionAssert.AreEquivalent(ContractOutputs, session.OutputMetadata.Keys.ToArray());
        CollectionAssert.AreEqual(new[] { path }, Directory.GetFileSystemEntries(Folder));
    }

    [TestMethod]
    public void SaveOnnx_EmptyPathOrNullStream_ThrowsNamingTheParameter()
    {
        using var transformer = SmallTransformer();

        Assert.AreEqual("path", Assert.ThrowsExactly<ArgumentException>(() => transformer.SaveOnnx(" ")).ParamName);
        Assert.AreEqual("path", Assert.ThrowsExactly<ArgumentNullException>(() => transformer.SaveOnnx((string)null!)).ParamName);
        Assert.AreEqual("stream", Assert.ThrowsExactly<ArgumentNullException>(() => transformer.SaveOnnx((Stream)null!)).ParamName);
    }

    [TestMethod]
    public void SaveOnnx_ReadOnlyStream_ThrowsNamingTheStream()
    {
        using var transformer = SmallTransformer();
        using var stream = new MemoryStream(new byte[16], writable: false);

        var error = Assert.ThrowsExactly<ArgumentException>(() => transformer.SaveOnnx(stream));

        Assert.AreEqual("stream", error.ParamName);
    }

    [TestMethod]
    public void SaveOnnx_SeekableStreamFailsMidway_CutBackToItsFormerLength()
    {
        using var transformer = SmallTransformer();
        using var stream = new FailingMemoryStream(failAfterBytes: 100_000);
        stream.Write([7, 7, 7]);

        Assert.ThrowsExactly<IOException>(() => transformer.SaveOnnx(stream));

        CollectionAssert.AreEqual(new byte[] { 7, 7, 7 }, stream.ToArray(), "nothing of the model is left in the stream");
        Assert.AreEqual(3, stream.Position);
    }

    [TestMethod]
    public void SaveOnnx_NonSeekableStreamFails_TheStreamsErrorComesThrough()
    {
        using var transformer = SmallTransformer();
        using var inner = new MemoryStream();
        using var stream = new FailingStream(inner, failAfterBytes: 1000);

        var error = Assert.ThrowsExactly<IOException>(() => transformer.SaveOnnx(stream));

        StringAssert.Contains(error.Message, "simulated");
    }

    /// <summary>A 2-class ResNet-18 for 32x32 pixels, exported by our exporter and opened through ResNetClassify.</summary>
    private static ResNetClassifierTransformer SmallTransformer()
    {
        using var folder = TempFolder.Create();
        var onnx = folder.File("small.onnx");
        using (var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 2)))
        {
            ResNetOnnxExporter.Export(model, onnx, new OnnxExportOptions { Labels = ["a", "b"], InputHeight = SmallSize, InputWidth = SmallSize, IncludeFeatures = true });
        }

        var ml = new MLContext(1);
        var pixels = ml.Data.LoadFromEnumerable(Array.Empty<PixelRow>());
        return ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = onnx }).Fit(pixels);
    }

    /// <summary><see cref="FixtureModels.ResNet18Pth"/> through ResNetClassify, labelled <see cref="ReferenceLabels"/>.</summary>
    private static ResNetClassifierTransformer FromResNet18Pth(MLContext ml, IDataView pixels) =>
        ml.Transforms.ResNetClassify(new ResNetClassifierOptions
        {
            FeatureColumnName = ImagePipeline.PixelsColumn,
            ModelPath = FixtureModels.ResNet18Pth(),
            Architecture = ResNetArchitecture.ResNet18,
            Labels = ReferenceLabels,
        }).Fit(pixels);

    /// <summary>The first <paramref name="perLabel"/> committed training images of each label, 32x32 pixels in
    /// <see cref="TrainingData.Features"/>, labels as keys.</summary>
    private static IDataView CommittedImages(MLContext ml, string[] labels, int perLabel)
    {
        var rows = labels.SelectMany(label => Directory.GetFiles(Path.Combine(TestPaths.FashionMnistTrain, label), "*.png")
            .Order(StringComparer.Ordinal).Take(perLabel).Select(file => new ImageRow { ImagePath = file, Label = label })).ToArray();
        var data = ml.Data.LoadFromEnumerable(rows);
        var pixels = ImagePipeline.PixelPipeline(ml, SmallSize, TrainingData.Features)
            .Append(ml.Transforms.Conversion.MapValueToKey(TrainingData.Label))
            .Append(ml.Transforms.DropColumns(ImagePipeline.ImageColumn))
            .Fit(data)
            .Transform(data);
        return ml.Data.Cache(pixels);
    }

    /// <summary>A bare ONNX Runtime session on the file, fed the pixel rows as one batch.</summary>
    private static float[][] RunProbabilities(string path, float[][] pixelRows, int size)
    {
        using var session = new InferenceSession(path);
        CollectionAssert.AreEqual(new[] { OnnxContract.PixelsInput }, session.InputMetadata.Keys.ToArray());
        CollectionAssert.AreEquivalent(ContractOutputs, session.OutputMetadata.Keys.ToArray());
        using var runOptions = new RunOptions();
        using var input = OrtValue.CreateTensorValueFromMemory(pixelRows.SelectMany(r => r).ToArray(), [pixelRows.Length, 3, size, size]);
        using var outputs = session.Run(runOptions, [OnnxContract.PixelsInput], [input], [OnnxContract.ProbabilitiesOutput]);
        var flat = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        var classes = flat.Length / pixelRows.Length;
        return Enumerable.Range(0, pixelRows.Length).Select(r => flat.AsSpan(r * classes, classes).ToArray()).ToArray();
    }

    private static IReadOnlyDictionary<string, string> Metadata(string path)
    {
        using var session = new InferenceSession(path);
        return new Dictionary<string, string>(session.ModelMetadata.CustomMetadataMap);
    }

    private static void AssertMetadata(string path, string[] labels, string architecture, int size, float[] mean, float[] std)
    {
        using var session = new InferenceSession(path);
        var metadata = session.ModelMetadata.CustomMetadataMap;
        Assert.AreEqual(OnnxContract.ProducerName, session.ModelMetadata.ProducerName);
        CollectionAssert.AreEqual(labels, JsonSerializer.Deserialize<string[]>(metadata[OnnxContract.Metadata.Labels]));
        Assert.AreEqual(architecture, metadata[OnnxContract.Metadata.Architecture]);
        CollectionAssert.AreEqual(new[] { size, size }, JsonSerializer.Deserialize<int[]>(metadata[OnnxContract.Metadata.InputSize]));
        CollectionAssert.AreEqual(mean, JsonSerializer.Deserialize<float[]>(metadata[OnnxContract.Metadata.Mean]));
        CollectionAssert.AreEqual(std, JsonSerializer.Deserialize<float[]>(metadata[OnnxContract.Metadata.Std]));
    }

    private sealed class ImageRow
    {
        public string ImagePath { get; set; } = string.Empty;

        public string Label { get; set; } = string.Empty;
    }

    private sealed class PixelRow
    {
        [VectorType(3 * SmallSize * SmallSize)]
        public float[] Pixels { get; set; } = [];
    }

    /// <summary>A seekable stream that takes <c>failAfterBytes</c> bytes, then fails as a full disk would.</summary>
    private sealed class FailingMemoryStream(long failAfterBytes) : MemoryStream
    {
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            var allowed = (int)Math.Clamp(failAfterBytes - Length, 0, buffer.Length);
            // The array overload: MemoryStream's span overload in a subclass comes back to Write(byte[], int, int).
            base.Write(buffer[..allowed].ToArray(), 0, allowed);
            if (allowed < buffer.Length)
            {
                throw new IOException($"No space left on device (simulated after {Length} bytes).");
            }
        }
    }
}
