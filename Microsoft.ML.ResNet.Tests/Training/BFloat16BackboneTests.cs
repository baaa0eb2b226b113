using Microsoft.ML.ResNet.Catalog;
using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Tests.Training;

/// <summary>The bfloat16 copy for passes on unchanging weights, against float32, with ImageNet weights on real photographs.</summary>
[TestClass]
public sealed class BFloat16BackboneTests
{
    private const int Size = 112;

    // Measured: at most 3.6% (pooled features) and 3.3% (layer2's output) relative L2 error per photo (AMD EPYC with
    // AVX512-BF16). bfloat16 keeps 8 mantissa bits (0.4% per rounding), weights and every activation are rounded, and the
    // errors of a dozen layers add up; a wrong copy (weights not copied, a stage skipped) is off by 100% or more.
    // Fine-tuning from such passes reached the float32 run's accuracy on both committed sets (TransferBenchmark).
    private const double RelativeErrorLimit = 0.06;

    // One ImageNet network and one batch of photos for the class: loading them is most of each test's time.
    private static ResNetModel s_model = null!;
    private static Tensor s_photos = null!;

    public TestContext TestContext { get; set; } = null!;

    [ClassInitialize]
    public static void LoadNetworkAndPhotos(TestContext _)
    {
        s_model = ImageNetModel();
        s_photos = Photos();
    }

    [ClassCleanup]
    public static void DisposeNetworkAndPhotos()
    {
        s_photos.Dispose();
        s_model.Dispose();
    }

    [TestMethod]
    public void Features_ImageNetNetworkOnRealPhotos_MatchFloat32WithinBFloat16Rounding()
    {
        using var bfloat16 = BFloat16Backbone.Of(s_model, CPU);
        using var expected = Float32(() => s_model.Features(s_photos));
        using var actual = bfloat16.Features(s_photos);

        AssertClose(expected, actual, "pooled features");
    }

    [TestMethod]
    public void StagesOutput_FrozenStagesOnRealPhotos_MatchFloat32WithinBFloat16Rounding()
    {
        using var bfloat16 = BFloat16Backbone.Of(s_model, CPU);
        using var expected = Float32(() => s_model.StagesOutput(s_photos, 3));
        using var actual = bfloat16.StagesOutput(s_photos, 3);

        CollectionAssert.AreEqual(expected.shape, actual.shape);
        AssertClose(expected, actual, "the output of the stem, layer1 and layer2");
    }

    [TestMethod]
    public void Of_ImageNetNetwork_LeavesTheNetworkFloat32AndUnchanged()
    {
        var before = s_model.state_dict().ToDictionary(e => e.Key, e => (e.Value.dtype, Values: e.Value.to_type(ScalarType.Float64).data<double>().ToArray()));

        using (BFloat16Backbone.Of(s_model, CPU))
        {
        }

        foreach (var (key, value) in s_model.state_dict())
        {
            Assert.AreEqual(before[key].dtype, value.dtype, $"'{key}' changed type.");
            CollectionAssert.AreEqual(before[key].Values, value.to_type(ScalarType.Float64).data<double>().ToArray(), $"'{key}' changed.");
        }
    }

    private void AssertClose(Tensor expected, Tensor actual, string what)
    {
        Assert.AreEqual(ScalarType.Float32, actual.dtype, $"The {what} must come back as float32.");
        var rows = expected.flatten(1);
        var errors = (actual.flatten(1) - rows).norm(1) / rows.norm(1);
        var worst = errors.max().item<float>();
        TestContext.WriteLine($"{what}: worst relative L2 error {worst:P2} over {rows.shape[0]} photos");
        Assert.IsTrue(worst < RelativeErrorLimit, $"The {what} in bfloat16 are {worst:P2} away from float32's; at most {RelativeErrorLimit:P0} expected.");
    }

    private static Tensor Float32(Func<Tensor> pass)
    {
        using var noGrad = no_grad();
        return pass();
    }

    private static ResNetModel ImageNetModel()
    {
        var options = new ResNetTrainerOptions { ImageHeight = Size, ImageWidth = Size, StartingWeights = ResNetStartingWeights.ImageNet, Seed = 1 };
        using var start = PretrainedStart.Open(options)!;
        var settings = start.ApplyTo(TrainerOptionsResolver.Resolve(options, seed: 1));
        var model = new ResNetModel(new ResNetSpec(settings.Architecture, 4, StageDepths: settings.StageDepths));
        start.LoadInto(model);
        model.eval();
        return model;
    }

    /// <summary>16 committed Tux Paint test photos, normalized as training feeds them.</summary>
    private static Tensor Photos()
    {
        var ml = new MLContext(seed: 1);
        var options = new ResNetTrainerOptions { ImageHeight = Size, ImageWidth = Size };
        var settings = TrainerOptionsResolver.Resolve(options, seed: 1);
        var data = TrainingData.LoadImages(ml, Path.Combine(TestPaths.TuxPaintPhotos, "test"), Size);
        var feeder = new BatchFeeder(data, TrainingData.Features, TrainingData.Label, settings with { BatchSize = 16 }, DataSplit.All);
        var batch = feeder.ReadEpoch(0, train: false, CancellationToken.None).First();
        return batch.ToTensors(Size, Size, CPU).Input;
    }
}
