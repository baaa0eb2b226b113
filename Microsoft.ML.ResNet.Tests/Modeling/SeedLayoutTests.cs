using Microsoft.ML.ResNet.IO;
using Microsoft.ML.ResNet.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Tests.Modeling;

/// <summary>The seed project's state-dict layout: recognised by its keys, mapped onto our modules, every key and shape checked.</summary>
[TestClass]
[DoNotParallelize]
public sealed class SeedLayoutTests : TempFolderTest
{
    [TestMethod]
    [DataRow("pre.0.weight", "conv1.weight")]
    [DataRow("pre.1.running_var", "bn1.running_var")]
    [DataRow("layer1.0.left.0.weight", "layer1.0.conv1.weight")]
    [DataRow("layer2.3.left.1.num_batches_tracked", "layer2.3.bn1.num_batches_tracked")]
    [DataRow("layer3.5.left.3.weight", "layer3.5.conv2.weight")]
    [DataRow("layer4.2.left.4.bias", "layer4.2.bn2.bias")]
    [DataRow("layer1.0.right.0.weight", "layer1.0.downsample.0.weight")]
    [DataRow("layer4.0.right.1.running_mean", "layer4.0.downsample.1.running_mean")]
    [DataRow("fc.weight", "fc.weight")]
    public void ToTorchVisionAndBack_EveryKindOfKey_MapsBothWays(string seed, string torchVision)
    {
        Assert.AreEqual(torchVision, SeedLayout.ToTorchVision(seed));
        Assert.AreEqual(seed, SeedLayout.ToSeed(torchVision));
    }

    [TestMethod]
    public void Read_SeedKeyedPth_DescribesTheSeedsResNet34AndMapsEveryKey()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet34, 10, ResNetVariant.ProjectionShortcuts));
        var path = WriteSeedPth(model, "seed.pth");

        using var file = WeightsFile.Read(path);

        Assert.AreEqual(ResNetWeightsLayout.Seed, file.Layout);
        Assert.AreEqual(new ResNetSpec(ResNetArchitecture.ResNet34, 10, ResNetVariant.ProjectionShortcuts), file.DescribedSpec);
        CollectionAssert.AreEquivalent(model.state_dict().Keys.ToArray(), file.Tensors.Keys.ToArray());
        Assert.AreEqual("layer3.0.right.1.weight", file.FileKey("layer3.0.downsample.1.weight"));
    }

    [TestMethod]
    public void Load_SeedKeyedPthMissingAKey_NamesTheSeedsKey()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet34, 10, ResNetVariant.ProjectionShortcuts));
        var path = WriteSeedPth(model, "missing.pth", drop: "layer3.2.bn2.running_var");

        var error = Assert.ThrowsExactly<InvalidDataException>(() => ResNetWeights.Load(model, path));

        StringAssert.Contains(error.Message, path);
        StringAssert.Contains(error.Message, "missing key 'layer3.2.left.4.running_var' (the model expects shape [256])");
    }

    [TestMethod]
    public void Load_SeedKeyedPthWithAnotherShape_NamesTheKeyAndBothShapes()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet34, 10, ResNetVariant.ProjectionShortcuts));
        var path = WriteSeedPth(model, "shape.pth", reshape: ("layer2.0.downsample.0.weight", [128, 64, 3, 3]));

        var error = Assert.ThrowsExactly<InvalidDataException>(() => ResNetWeights.Load(model, path));

        StringAssert.Contains(error.Message, "shape of 'layer2.0.right.0.weight' is [128, 64, 3, 3] in the file but [128, 64, 1, 1] in the model");
    }

    [TestMethod]
    public void Load_SeedKeyedPthWithAnExtraKey_NamesItAsTheFileDoes()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet34, 10, ResNetVariant.ProjectionShortcuts));
        var path = WriteSeedPth(model, "extra.pth", extra: "layer1.1.right.0.weight");

        var error = Assert.ThrowsExactly<InvalidDataException>(() => ResNetWeights.Load(model, path));

        StringAssert.Contains(error.Message, "unexpected key 'layer1.1.right.0.weight'");
    }

    [TestMethod]
    public void Read_SeedAndTorchVisionKeysForOneTensor_ThrowsNamingBoth()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet34, 10, ResNetVariant.ProjectionShortcuts));
        var path = WriteSeedPth(model, "mixed.pth", extra: "conv1.weight");

        var error = Assert.ThrowsExactly<InvalidDataException>(() => WeightsFile.Read(path));

        StringAssert.Contains(error.Message, path);
        StringAssert.Contains(error.Message, "'conv1.weight'");
    }

    [TestMethod]
    public void Read_SeedKeysWithAnEmptyStage_ThrowsNamingTheDepths()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 4, ResNetVariant.ProjectionShortcuts));
        var weights = NetworkWeights.Capture(model, ["a", "b", "c", "d"], new ImageNormalization([0.5f, 0.5f, 0.5f], [0.25f, 0.25f, 0.25f]));
        var path = Path.Combine(Folder, "empty-stage.pth");
        var kept = weights.Tensors.Where(t => !t.Name.StartsWith("layer4.", StringComparison.Ordinal)).Select(t => t with { Name = SeedLayout.ToSeed(t.Name) }).ToList();
        AtomicFile.Write(path, stream => PyTorchStateDictWriter.Write(stream, kept));

        var error = Assert.ThrowsExactly<InvalidDataException>(() => WeightsFile.Read(path));

        StringAssert.Contains(error.Message, path);
        StringAssert.Contains(error.Message, "2/2/2/0");
    }

    [TestMethod]
    public void SeedFixture_LoadedThroughTheSeedLayout_MatchesPyTorchsLogitsInTorchSharp()
    {
        var fixture = PythonReference.Get("seed");
        using var file = WeightsFile.Read(fixture.WeightsPath);
        using var model = new ResNetModel(file.DescribedSpec!);
        ResNetWeights.Apply(model, file, freshHead: false);
        model.eval();

        var difference = fixture.MaxLogitDifference(model);
        Console.WriteLine($"seed .pth in TorchSharp: max |logit difference| {difference}");

        Assert.AreEqual(21_801_896L, model.parameters().Sum(p => p.numel()), "the seed's parameter count");
        Assert.IsLessThanOrEqualTo(1e-4f, difference, $"max |logit difference| {difference}");
    }

    /// <summary>The model's state dict under the seed's keys, optionally with one key dropped, reshaped or added.</summary>
    private string WriteSeedPth(ResNetModel model, string name, string? drop = null, (string Key, long[] Shape)? reshape = null, string? extra = null)
    {
        var weights = NetworkWeights.Capture(model, Enumerable.Range(0, model.Spec.NumClasses).Select(i => $"c{i}").ToArray(), new ImageNormalization([0.5f, 0.5f, 0.5f], [0.25f, 0.25f, 0.25f]));
        var tensors = new List<WeightsTensor>();
        foreach (var tensor in weights.Tensors.Where(t => t.Name != drop))
        {
            var changed = reshape is { } r && r.Key == tensor.Name
                ? tensor with { Shape = r.Shape, Data = new byte[r.Shape.Aggregate(4L, (a, d) => a * d)] }
                : tensor;
            tensors.Add(changed with { Name = SeedLayout.ToSeed(changed.Name) });
        }

        if (extra is not null)
        {
            tensors.Add(new WeightsTensor(extra, ScalarType.Float32, [2], new byte[8]));
        }

        var path = Path.Combine(Folder, name);
        AtomicFile.Write(path, stream => PyTorchStateDictWriter.Write(stream, tensors));
        return path;
    }
}
