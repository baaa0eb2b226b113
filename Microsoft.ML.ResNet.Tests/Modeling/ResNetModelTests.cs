using Microsoft.ML.ResNet.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Tests.Modeling;

[TestClass]
public sealed class ResNetModelTests
{
    [TestMethod]
    [DataRow(ResNetArchitecture.ResNet18, 11_689_512L)]
    [DataRow(ResNetArchitecture.ResNet34, 21_797_672L)]
    [DataRow(ResNetArchitecture.ResNet50, 25_557_032L)]
    [DataRow(ResNetArchitecture.ResNet101, 44_549_160L)]
    [DataRow(ResNetArchitecture.ResNet152, 60_192_808L)]
    public void Constructor_ThousandClasses_HasTorchVisionParameterCount(ResNetArchitecture architecture, long expected)
    {
        using var model = new ResNetModel(new ResNetSpec(architecture, 1000));

        Assert.AreEqual(expected, model.parameters().Sum(p => p.numel()));
    }

    [TestMethod]
    public void Constructor_ProjectionShortcutsVariant_HasSeedParameterCount()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet34, 1000, ResNetVariant.ProjectionShortcuts));

        Assert.AreEqual(21_801_896L, model.parameters().Sum(p => p.numel()));
    }

    [TestMethod]
    [DataRow(ResNetArchitecture.ResNet18)]
    [DataRow(ResNetArchitecture.ResNet34)]
    [DataRow(ResNetArchitecture.ResNet50)]
    public void StateDict_ComparedWithTorchVision_SameKeysAndShapes(ResNetArchitecture architecture)
    {
        using var ours = new ResNetModel(new ResNetSpec(architecture, 1000));
        using var reference = architecture switch
        {
            ResNetArchitecture.ResNet18 => TorchSharp.torchvision.models.resnet18(),
            ResNetArchitecture.ResNet34 => TorchSharp.torchvision.models.resnet34(),
            _ => TorchSharp.torchvision.models.resnet50(),
        };

        var ourShapes = ours.state_dict().ToDictionary(kv => kv.Key, kv => string.Join('x', kv.Value.shape));
        var referenceShapes = reference.state_dict().ToDictionary(kv => kv.Key, kv => string.Join('x', kv.Value.shape));

        CollectionAssert.AreEquivalent(referenceShapes.Keys.ToList(), ourShapes.Keys.ToList());
        foreach (var (key, shape) in referenceShapes)
        {
            Assert.AreEqual(shape, ourShapes[key], $"shape of {key}");
        }
    }

    [TestMethod]
    public void StateDict_ResNet34_Has218EntriesLikeTorchVision()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet34, 1000));

        Assert.AreEqual(218, model.state_dict().Count);
    }

    [TestMethod]
    [DataRow(32, 32)]
    [DataRow(96, 160)]
    [DataRow(224, 224)]
    public void Forward_AnyInputFrom32_GivesLogitsPerClass(int height, int width)
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 7));
        model.eval();
        using var input = rand(2, 3, height, width);

        using var logits = model.call(input);

        CollectionAssert.AreEqual(new long[] { 2, 7 }, logits.shape);
    }

    [TestMethod]
    public void Features_ResNet50_Is2048Wide()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet50, 10));
        model.eval();
        using var input = rand(1, 3, 64, 64);

        using var features = model.Features(input);

        CollectionAssert.AreEqual(new long[] { 1, 2048 }, features.shape);
    }

    [TestMethod]
    public void Constructor_ZeroInitResidual_LastBatchNormOfEveryBlockIsZero()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet50, 10, ZeroInitResidual: true));

        var lastNorms = model.state_dict().Where(kv => kv.Key.StartsWith("layer") && kv.Key.EndsWith("bn3.weight")).ToList();

        Assert.AreEqual(16, lastNorms.Count);
        Assert.IsTrue(lastNorms.All(kv => kv.Value.abs().max().item<float>() == 0f));
        Assert.AreEqual(1f, model.bn1.weight!.min().item<float>());
    }

    [TestMethod]
    public void Forward_ProjectionShortcutsAt160_ThrowsNaming224()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 2, ResNetVariant.ProjectionShortcuts));
        using var input = rand(1, 3, 160, 160);

        var error = Assert.ThrowsExactly<ArgumentException>(() => model.call(input));

        StringAssert.Contains(error.Message, "224x224");
        StringAssert.Contains(error.Message, "160x160");
    }

    [TestMethod]
    public void Forward_ProjectionShortcutsAt224_GivesLogits()
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 2, ResNetVariant.ProjectionShortcuts));
        model.eval();
        using var input = rand(1, 3, 224, 224);

        using var logits = model.call(input);

        CollectionAssert.AreEqual(new long[] { 1, 2 }, logits.shape);
    }

    [TestMethod]
    [DataRow(1, 3, 16, 64)]
    [DataRow(1, 1, 64, 64)]
    public void Forward_BadInputShape_ThrowsNamingTheShape(int batch, int channels, int height, int width)
    {
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 2));
        using var input = rand(batch, channels, height, width);

        var error = Assert.ThrowsExactly<ArgumentException>(() => model.call(input));

        Assert.AreEqual("input", error.ParamName);
    }

    [TestMethod]
    public void Constructor_ZeroClasses_ThrowsNamingNumClasses()
    {
        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 0)));

        Assert.AreEqual("NumClasses", error.ParamName);
    }
}
