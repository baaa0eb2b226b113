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

    // Expected counts from torchvision 0.14 (/usr/bin/python3): sum(p.numel() for p in ResNet(block, depths, num_classes=n).parameters())
    // and len(state_dict()).
    [TestMethod]
    [DataRow(ResNetArchitecture.ResNet18, new[] { 2, 2, 2, 3 }, 1000, 16_410_152L, 134)]
    [DataRow(ResNetArchitecture.ResNet34, new[] { 1, 1, 1, 1 }, 10, 4_910_922L, 74)]
    [DataRow(ResNetArchitecture.ResNet50, new[] { 1, 2, 1, 1 }, 10, 8_316_490L, 122)]
    public void Constructor_CustomStageDepths_HasTorchVisionParameterCountAndKeys(ResNetArchitecture architecture, int[] depths, int classes, long parameters, int keys)
    {
        using var model = new ResNetModel(new ResNetSpec(architecture, classes, StageDepths: depths));

        Assert.AreEqual(parameters, model.parameters().Sum(p => p.numel()));
        Assert.AreEqual(keys, model.state_dict().Count);
        CollectionAssert.AreEqual(depths, new[] { model.layer1, model.layer2, model.layer3, model.layer4 }.Select(l => l.children().Count()).ToArray());
    }

    [TestMethod]
    [DataRow(new[] { 2, 2, 2 })]
    [DataRow(new[] { 2, 2, 0, 2 })]
    [DataRow(new[] { 2, 2, 2, 2, 2 })]
    public void Constructor_BadStageDepths_ThrowsNamingDepthsAndRule(int[] depths)
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 2, StageDepths: depths)));

        Assert.AreEqual("StageDepths", error.ParamName);
        StringAssert.Contains(error.Message, $"[{string.Join(", ", depths)}]");
        StringAssert.Contains(error.Message, "4 entries");
    }

    [TestMethod]
    public void Spec_CustomDepths_DescribedAndComparedByValue()
    {
        var custom = new ResNetSpec(ResNetArchitecture.ResNet18, 5, StageDepths: [2, 2, 2, 3]);

        Assert.AreEqual("ResNet18 (TorchVision, stage depths 2/2/2/3)", custom.Describe());
        Assert.AreEqual("ResNet18 (TorchVision)", new ResNetSpec(ResNetArchitecture.ResNet18, 5).Describe());
        Assert.AreEqual(custom, new ResNetSpec(ResNetArchitecture.ResNet18, 5, StageDepths: new List<int> { 2, 2, 2, 3 }));
        Assert.AreNotEqual(custom, new ResNetSpec(ResNetArchitecture.ResNet18, 5));
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
