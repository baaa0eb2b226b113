using System.Text.RegularExpressions;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Tests.Scoring;

namespace Microsoft.ML.ResNet.Tests.Export;

/// <summary>
/// <see cref="ResNetClassifierTransformer.SaveTritonRepository"/>: the config.pbtxt states what ONNX Runtime reads from the
/// written model.onnx (input and output names, dims after the batch axis), labels.txt has the classifier's labels, and a
/// folder that is in the way is refused with nothing written.
/// </summary>
[TestClass]
public sealed class TritonModelRepositoryTests : TempFolderTest
{
    private const int Size = 64;
    private static readonly string[] Labels = ["cat", "dog", "bird", "fish", "frog"];

    [TestMethod]
    public void SaveTritonRepository_Classifier_ConfigMatchesTheModelsContractAndLabels()
    {
        using var classifier = Classifier();

        var folder = classifier.SaveTritonRepository(Repository, "flowers", maxBatchSize: 16, maxQueueDelayMicroseconds: 500);

        Assert.AreEqual(Path.Combine(Repository, "flowers"), folder);
        CollectionAssert.AreEquivalent(
            new[] { "1/model.onnx", "config.pbtxt", "labels.txt" },
            Directory.GetFiles(folder, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(folder, f).Replace('\\', '/')).ToArray());
        CollectionAssert.AreEqual(Labels, File.ReadAllLines(Path.Combine(folder, "labels.txt")));
        using var stream = new MemoryStream();
        classifier.SaveOnnx(stream);
        CollectionAssert.AreEqual(stream.ToArray(), File.ReadAllBytes(Path.Combine(folder, "1", "model.onnx")), "the file SaveOnnx writes");

        var config = File.ReadAllText(Path.Combine(folder, "config.pbtxt"));
        StringAssert.Contains(config, "name: \"flowers\"\n");
        StringAssert.Contains(config, "platform: \"onnxruntime_onnx\"\n");
        StringAssert.Contains(config, "max_batch_size: 16\n");
        StringAssert.Matches(config, new Regex(@"dynamic_batching \{\s*max_queue_delay_microseconds: 500\s*\}"));
        using var session = new InferenceSession(Path.Combine(folder, "1", "model.onnx"));
        AssertTensors(Tensors(config, "input"), session.InputMetadata);
        AssertTensors(Tensors(config, "output"), session.OutputMetadata);
        CollectionAssert.AreEqual(new long[] { 3, Size, Size }, Tensors(config, "input")[OnnxContract.PixelsInput].Dims);
        var labelled = Tensors(config, "output").Where(t => t.Value.LabelFile is not null).Select(t => (t.Key, t.Value.LabelFile)).ToArray();
        CollectionAssert.AreEqual(new[] { (OnnxContract.ProbabilitiesOutput, (string?)"labels.txt") }, labelled);
    }

    [TestMethod]
    public void SaveTritonRepository_ModelFolderNotEmpty_ThrowsNamingItAndWritesNothing()
    {
        using var classifier = Classifier();
        var taken = Path.Combine(Repository, "resnet");
        Directory.CreateDirectory(taken);
        File.WriteAllText(Path.Combine(taken, "keep.txt"), "mine");

        var error = Assert.ThrowsExactly<IOException>(() => classifier.SaveTritonRepository(Repository));

        StringAssert.Contains(error.Message, taken);
        CollectionAssert.AreEqual(new[] { taken }, Directory.GetFileSystemEntries(Repository));
        CollectionAssert.AreEqual(new[] { Path.Combine(taken, "keep.txt") }, Directory.GetFileSystemEntries(taken));
    }

    [TestMethod]
    public void SaveTritonRepository_EmptyModelFolder_IsFilled()
    {
        using var classifier = Classifier();
        Directory.CreateDirectory(Path.Combine(Repository, "resnet"));

        var folder = classifier.SaveTritonRepository(Repository);

        Assert.IsTrue(File.Exists(Path.Combine(folder, "config.pbtxt")));
        CollectionAssert.AreEqual(new[] { folder }, Directory.GetFileSystemEntries(Repository), "no staging folder left");
    }

    [TestMethod]
    [DataRow("../escape")]
    [DataRow("a/b")]
    [DataRow("..")]
    public void SaveTritonRepository_ModelNameNotAPlainFolderName_ThrowsArgumentException(string name)
    {
        using var classifier = Classifier();

        var error = Assert.ThrowsExactly<ArgumentException>(() => classifier.SaveTritonRepository(Repository, name));

        Assert.AreEqual("modelName", error.ParamName);
        Assert.IsFalse(Directory.Exists(Repository));
    }

    [TestMethod]
    public void SaveTritonRepository_BatchSizeZero_ThrowsArgumentOutOfRange()
    {
        using var classifier = Classifier();

        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => classifier.SaveTritonRepository(Repository, maxBatchSize: 0));

        Assert.AreEqual("maxBatchSize", error.ParamName);
    }

    private string Repository => Path.Combine(Folder, "repo");

    private ResNetClassifierTransformer Classifier()
    {
        var onnx = Path.Combine(Folder, "network.onnx");
        using (var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, Labels.Length)))
        {
            ResNetOnnxExporter.Export(model, onnx, new OnnxExportOptions { Labels = Labels, InputHeight = Size, InputWidth = Size });
        }

        try
        {
            var ml = new MLContext(1);
            return ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = onnx }).Fit(ImagePipeline.PhotoPixels(ml, Size));
        }
        finally
        {
            File.Delete(onnx);
        }
    }

    /// <summary>Each entry of the config's <paramref name="kind"/> list: name, data type, dims, label file.</summary>
    private static Dictionary<string, (string Type, long[] Dims, string? LabelFile)> Tensors(string config, string kind)
    {
        var list = Regex.Match(config, $@"^{kind} \[\n(.*?)\n\]$", RegexOptions.Multiline | RegexOptions.Singleline);
        Assert.IsTrue(list.Success, $"no '{kind} [ ... ]' in:\n{config}");
        var entries = Regex.Matches(list.Groups[1].Value, @"\{(.*?)\}", RegexOptions.Singleline);
        return entries.ToDictionary(
            e => Regex.Match(e.Value, "name: \"([^\"]+)\"").Groups[1].Value,
            e => (
                Regex.Match(e.Value, @"data_type: (\w+)").Groups[1].Value,
                Regex.Match(e.Value, @"dims: \[([^\]]*)\]").Groups[1].Value.Split(',', StringSplitOptions.TrimEntries).Select(long.Parse).ToArray(),
                Regex.Match(e.Value, "label_filename: \"([^\"]+)\"") is { Success: true } m ? m.Groups[1].Value : null));
    }

    private static void AssertTensors(Dictionary<string, (string Type, long[] Dims, string? LabelFile)> config, IReadOnlyDictionary<string, NodeMetadata> model)
    {
        CollectionAssert.AreEquivalent(model.Keys.ToArray(), config.Keys.ToArray(), "tensor names");
        foreach (var (name, metadata) in model)
        {
            Assert.AreEqual(-1, metadata.Dimensions[0], $"{name}: the model's batch axis is dynamic");
            Assert.AreEqual("TYPE_FP32", config[name].Type, name);
            CollectionAssert.AreEqual(metadata.Dimensions.Skip(1).Select(d => (long)d).ToArray(), config[name].Dims, $"{name}: dims after the batch axis");
        }
    }
}
