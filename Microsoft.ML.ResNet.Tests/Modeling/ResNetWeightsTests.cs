using Microsoft.ML.ResNet.Modeling;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Tests.Modeling;

[TestClass]
public sealed class ResNetWeightsTests : TempFolderTest
{
    [TestMethod]
    public void Save_ThenLoad_RestoresEveryTensorAndTheLabels()
    {
        using var original = NewModel(3);
        var labels = new[] { "cat", "dog", "bird" };
        var path = Path.Combine(Folder, "model.safetensors");

        ResNetWeights.Save(original, path, labels);
        using var reloaded = NewModel(3, seed: 99);
        var header = ResNetWeights.Load(reloaded, path);

        CollectionAssert.AreEqual(labels, header!.Labels.ToArray());
        Assert.AreEqual(ResNetArchitecture.ResNet18, header.Architecture);
        AssertSameState(original, reloaded);
        Assert.AreEqual(1, Directory.GetFiles(Folder).Length, "no temp file is left beside the saved file");
    }

    [TestMethod]
    public void Save_CustomStageDepths_HeaderRecordsThemAndDescribesTheNetwork()
    {
        using var original = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 3, StageDepths: [2, 2, 2, 3]));
        var path = Path.Combine(Folder, "model.safetensors");

        ResNetWeights.Save(original, path, ["a", "b", "c"]);
        using var file = WeightsFile.Read(path);
        using var reloaded = new ResNetModel(file.DescribedSpec!);
        ResNetWeights.Apply(reloaded, file, freshHead: false);

        CollectionAssert.AreEqual(new[] { 2, 2, 2, 3 }, file.Header!.StageDepths!.ToArray());
        Assert.AreEqual(original.Spec, file.DescribedSpec);
        AssertSameState(original, reloaded);
    }

    [TestMethod]
    public void Load_CustomDepthFileIntoOtherDepths_ErrorShowsTheModelsDepthsAndTheExtraBlock()
    {
        using var custom = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 2, StageDepths: [2, 2, 2, 3]));
        var path = SaveAsPth(custom);
        using var twoBlocks = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 2, StageDepths: [1, 2, 2, 2]));

        var error = Assert.ThrowsExactly<InvalidDataException>(() => ResNetWeights.Load(twoBlocks, path));

        StringAssert.Contains(error.Message, "ResNet18 (TorchVision, stage depths 1/2/2/2) with 2 classes");
        StringAssert.Contains(error.Message, "unexpected key 'layer1.1.conv1.weight'");
    }

    [TestMethod]
    public void Load_PyTorchStateDict_MatchesPyTorchLogits()
    {
        var fixture = PythonReference.Get("resnet34");
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet34, fixture.Outputs.Num_classes));

        ResNetWeights.Load(model, fixture.WeightsPath);
        model.eval();
        var maxDifference = fixture.MaxLogitDifference(model);
        Assert.IsTrue(maxDifference <= 1e-4f, $"max |TorchSharp - PyTorch| on logits = {maxDifference}");
    }

    [TestMethod]
    public void Load_SafeTensors_RestoresEveryTensor()
    {
        using var original = NewModel(4);
        var path = Path.Combine(Folder, "model.safetensors");
        original.save_safetensors(path);

        using var reloaded = NewModel(4, seed: 7);
        ResNetWeights.Load(reloaded, path);

        AssertSameState(original, reloaded);
    }

    [TestMethod]
    public void Load_TenClassFileIntoThousandClassModel_ThrowsNamingHeadShapes()
    {
        var path = SaveAsPth(NewModel(10));
        using var model = NewModel(1000);

        var error = Assert.ThrowsExactly<InvalidDataException>(() => ResNetWeights.Load(model, path));

        StringAssert.Contains(error.Message, "shape of 'fc.weight' is [10, 512] in the file but [1000, 512] in the model");
        StringAssert.Contains(error.Message, "fresh head");
    }

    [TestMethod]
    public void Load_FreshHead_CopiesBackboneAndKeepsTheModelsHead()
    {
        using var source = NewModel(10);
        var path = SaveAsPth(source);
        using var model = NewModel(3, seed: 5);
        using var headBefore = model.fc.weight!.clone();

        ResNetWeights.Load(model, path, freshHead: true);

        Assert.IsTrue(Same(model.fc.weight!, headBefore), "the head is the model's own");
        Assert.IsTrue(Same(model.layer4.state_dict()["1.conv2.weight"], source.layer4.state_dict()["1.conv2.weight"]));
        Assert.IsTrue(Same(model.bn1.running_var!, source.bn1.running_var!));
    }

    [TestMethod]
    public void Load_MissingAndUnexpectedKeys_ThrowsListingEachKey()
    {
        using var source = NewModel(3);
        var state = source.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value);
        state.Remove("layer2.0.bn1.running_mean");
        state["layer9.extra.weight"] = ones(2, 2);
        var path = Path.Combine(Folder, "odd.pth");
        PyTorchPickler.PickleStateDict(path, state);
        using var model = NewModel(3, seed: 4);
        using var before = model.layer1.state_dict()["0.conv1.weight"].clone();

        var error = Assert.ThrowsExactly<InvalidDataException>(() => ResNetWeights.Load(model, path));

        StringAssert.Contains(error.Message, "missing key 'layer2.0.bn1.running_mean' (the model expects shape [128])");
        StringAssert.Contains(error.Message, "unexpected key 'layer9.extra.weight' (shape [2, 2])");
        Assert.IsTrue(Same(model.layer1.state_dict()["0.conv1.weight"], before), "nothing is copied from a file that does not fit");
    }

    [TestMethod]
    public void Load_WrongShapeInsideBackbone_ThrowsNamingBothShapes()
    {
        using var source = NewModel(3);
        var state = source.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value);
        state["layer3.1.conv2.weight"] = zeros(256, 256, 1, 1);
        var path = Path.Combine(Folder, "reshaped.pth");
        PyTorchPickler.PickleStateDict(path, state);

        var error = Assert.ThrowsExactly<InvalidDataException>(() => ResNetWeights.Load(NewModel(3), path));

        StringAssert.Contains(error.Message, "shape of 'layer3.1.conv2.weight' is [256, 256, 1, 1] in the file but [256, 256, 3, 3] in the model");
    }

    [TestMethod]
    public void Load_DeeperNetworksFile_ThrowsNamingExtraBlocks()
    {
        using var deeper = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet34, 3));
        var path = SaveAsPth(deeper);

        var error = Assert.ThrowsExactly<InvalidDataException>(() => ResNetWeights.Load(NewModel(3), path));

        StringAssert.Contains(error.Message, "unexpected key 'layer1.2.bn1.bias' (shape [64])");
    }

    [TestMethod]
    public void Load_TruncatedSafetensorsWeWrote_ThrowsNamingTheFile()
    {
        var path = Path.Combine(Folder, "model.safetensors");
        ResNetWeights.Save(NewModel(2), path);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);

        var error = Assert.ThrowsExactly<InvalidDataException>(() => ResNetWeights.Load(NewModel(2), path));

        StringAssert.Contains(error.Message, "Safetensors");
        StringAssert.Contains(error.Message, path);
    }

    [TestMethod]
    public void Load_TruncatedPth_ThrowsNamingTheFormat()
    {
        var path = SaveAsPth(NewModel(2));
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 3)]);

        var error = Assert.ThrowsExactly<InvalidDataException>(() => ResNetWeights.Load(NewModel(2), path));

        StringAssert.Contains(error.Message, "PyTorch");
        StringAssert.Contains(error.Message, path);
    }

    [TestMethod]
    public void Load_UnknownFormat_ThrowsListingKnownFormats()
    {
        var path = Path.Combine(Folder, "notes.txt");
        File.WriteAllText(path, "these are not weights");

        var error = Assert.ThrowsExactly<InvalidDataException>(() => ResNetWeights.Load(NewModel(2), path));

        StringAssert.Contains(error.Message, ".safetensors");
    }

    [TestMethod]
    public void Load_MissingFile_ThrowsFileNotFound()
    {
        var path = Path.Combine(Folder, "absent.pth");

        var error = Assert.ThrowsExactly<FileNotFoundException>(() => ResNetWeights.Load(NewModel(2), path));

        Assert.AreEqual(path, error.FileName);
    }

    [TestMethod]
    public void Save_LabelCountDiffersFromClasses_ThrowsNamingLabels()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => ResNetWeights.Save(NewModel(3), Path.Combine(Folder, "x.safetensors"), ["a", "b"]));

        Assert.AreEqual("labels", error.ParamName);
    }

    private static ResNetModel NewModel(int classes, int seed = 1)
    {
        manual_seed(seed);
        return new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, classes));
    }

    private string SaveAsPth(ResNetModel model)
    {
        var path = Path.Combine(Folder, $"{Guid.NewGuid():N}.pth");
        model.save_py(path);
        return path;
    }

    private static void AssertSameState(ResNetModel expected, ResNetModel actual)
    {
        var actualState = actual.state_dict();
        foreach (var (key, tensor) in expected.state_dict())
        {
            Assert.IsTrue(Same(tensor, actualState[key]), $"tensor {key} differs");
        }
    }

    private static bool Same(Tensor expected, Tensor actual) =>
        expected.shape.SequenceEqual(actual.shape) && expected.eq(actual).all().item<bool>();
}
