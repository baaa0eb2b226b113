using Microsoft.ML.ResNet.Catalog;
using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Training;

namespace Microsoft.ML.ResNet.Tests.Training;

/// <summary>Where a training run's weights come from: random, the user's file, or the featurizer package's ImageNet network.</summary>
[TestClass]
[DoNotParallelize]
public sealed class PretrainedStartTests
{
    [TestMethod]
    public void Open_RandomStart_ReturnsNull()
    {
        Assert.IsNull(PretrainedStart.Open(new ResNetTrainerOptions()));
    }

    [TestMethod]
    public void Open_ImageNetWithPackageBeside_AdoptsThePackageNetworkAndItsNormalization()
    {
        using var start = PretrainedStart.Open(new ResNetTrainerOptions { StartingWeights = ResNetStartingWeights.ImageNet });
        Assert.IsNotNull(start, "The test project references the featurizer package.");
        var settings = start.ApplyTo(TrainerOptionsResolver.Resolve(new ResNetTrainerOptions { StartingWeights = ResNetStartingWeights.ImageNet }, seed: 1));

        StringAssert.Contains(start.Description, FeaturizerPackage.PackageId);
        Assert.AreEqual(ResNetArchitecture.ResNet18, settings.Architecture, "The package's network has basic blocks.");
        CollectionAssert.AreEqual(new[] { 2, 2, 2, 3 }, settings.StageDepths);
        CollectionAssert.AreEqual(new[] { 1 / 255f, 1 / 255f, 1 / 255f }, settings.Std, "CNTK's network takes 0..255 pixels.");
        Assert.AreEqual(123.15f / 255, settings.Mean[0], 0.01f / 255, "Red first: the package's mean image is stored B, G, R.");
        Assert.AreEqual(103.06f / 255, settings.Mean[2], 0.01f / 255);
    }

    [TestMethod]
    public void Open_ImageNetWithoutPackageOrFile_ThrowsNamingBothWays()
    {
        var empty = Directory.CreateTempSubdirectory("resnetml-nopackage-");
        try
        {
            var options = new ResNetTrainerOptions { StartingWeights = ResNetStartingWeights.ImageNet };

            var error = Assert.ThrowsExactly<InvalidOperationException>(() => PretrainedStart.Open(options, empty.FullName));

            StringAssert.Contains(error.Message, nameof(ResNetTrainerOptions.PretrainedWeightsPath));
            StringAssert.Contains(error.Message, FeaturizerPackage.PackageId);
            StringAssert.Contains(error.Message, empty.FullName);
        }
        finally
        {
            empty.Delete(recursive: true);
        }
    }

    [TestMethod]
    public void Open_FileGiven_TakesPrecedenceOverImageNet()
    {
        var path = FeaturizerPackage.FindResNet18Onnx()!;
        using var start = PretrainedStart.Open(new ResNetTrainerOptions { StartingWeights = ResNetStartingWeights.Random, PretrainedWeightsPath = path });

        Assert.IsNotNull(start);
        StringAssert.Contains(start.Description, path);
    }

    [TestMethod]
    public void LoadInto_PackageNetwork_CopiesTheBackboneAndKeepsTheFreshHead()
    {
        using var start = PretrainedStart.Open(new ResNetTrainerOptions { StartingWeights = ResNetStartingWeights.ImageNet })!;
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, 4, StageDepths: [2, 2, 2, 3]));
        var freshHead = model.fc.weight!.data<float>().ToArray();
        var randomStem = model.conv1.weight!.data<float>().ToArray();

        start.LoadInto(model);

        CollectionAssert.AreEqual(freshHead, model.fc.weight!.data<float>().ToArray(), "The head is sized to the labels and stays fresh.");
        CollectionAssert.AreNotEqual(randomStem, model.conv1.weight!.data<float>().ToArray(), "The stem now holds ImageNet's filters.");
    }
}
