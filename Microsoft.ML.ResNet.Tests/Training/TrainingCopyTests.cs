using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Native;
using Microsoft.ML.ResNet.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Tests.Training;

/// <summary>Steps through the channels-last training copy, in bfloat16 (mixed precision) and float32, against float32 steps of the same network on real photographs.</summary>
[TestClass]
public sealed class TrainingCopyTests
{
    private const int Size = 64;
    private const int Classes = 4;

    // Relative L2 error of a parameter's gradient against float32's, on a randomly initialized network whose near-uniform
    // outputs make the loss gradient small and sensitive. Measured: 25-44% per parameter (the most at the stem, the end of
    // the backward chain; 4% at fc), and PyTorch 1.13's own autocast on torchvision's ResNet-18 with the same seed and
    // batch shape gives 19-41% (4% at fc): bfloat16's 8-bit mantissa, rounded at every convolution forward and backward.
    // A gradient not carried back (stale, zero, another parameter's) is off by 100% or more.
    private const double GradientErrorLimit = 0.6;

    // Measured: 0.4-1.4% per parameter. Summation order alone, amplified by a random network's near-uniform outputs:
    // PyTorch 1.13's own channels-last gives up to 0.45% on torchvision's ResNet-18 with the same seed and batch shape.
    private const double Float32LayoutErrorLimit = 0.03;

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public void PushGradients_OneStepOnPhotos_GivesTheFloat32GradientsToBFloat16Precision()
    {
        using var scope = NewDisposeScope();
        var largest = 0.0;
        foreach (var (name, pushed, float32) in GradientsThroughCopy(ScalarType.BFloat16))
        {
            Assert.AreEqual(ScalarType.Float32, pushed.dtype, $"'{name}': the optimizer must see float32 gradients.");
            var error = RelativeError(pushed, float32);
            largest = Math.Max(largest, error);
            Assert.IsTrue(error <= GradientErrorLimit, $"'{name}': the bfloat16 gradient is off by {error:P1} of float32's (limit {GradientErrorLimit:P0}).");
        }

        TestContext.WriteLine($"Largest relative gradient error: {largest:P2}");
    }

    /// <summary>In float32 the copy only changes the layout: the gradients are NCHW's up to summation order.</summary>
    [TestMethod]
    public void PushGradients_Float32ChannelsLast_GivesTheNchwGradients()
    {
        using var scope = NewDisposeScope();
        foreach (var (name, pushed, nchw) in GradientsThroughCopy(ScalarType.Float32))
        {
            Assert.IsTrue(pushed.is_contiguous(), $"'{name}': the network's gradient keeps its NCHW layout.");
            var error = RelativeError(pushed, nchw);
            Assert.IsTrue(error <= Float32LayoutErrorLimit, $"'{name}': the channels-last gradient is off by {error:G3} of NCHW's.");
        }
    }

    [TestMethod]
    public void Of_TrainingForward_UpdatesTheNetworksOwnBatchNormStatistics()
    {
        using var scope = NewDisposeScope();
        using var model = RandomNetwork();
        using var copy = TrainingCopy.Of(model, CPU, ScalarType.BFloat16);
        var before = model.bn1.running_mean!.clone();

        copy.PullWeights();
        copy.Network.train();
        using (no_grad())
        {
            copy.Network.call(copy.ToInput(Photos().Input));
        }

        Assert.AreEqual(ScalarType.Float32, model.bn1.running_mean!.dtype);
        Assert.IsTrue((model.bn1.running_mean - before).abs().max().item<float>() > 0, "The copy's BatchNorm must update the network's running mean.");
        CollectionAssert.AreEqual(model.bn1.running_mean.data<float>().ToArray(), copy.Network.bn1.running_mean!.data<float>().ToArray());
    }

    [TestMethod]
    public void Of_FrozenParameters_StayOutOfTheCopysGradients()
    {
        using var scope = NewDisposeScope();
        using var model = RandomNetwork();
        foreach (var parameter in model.conv1.parameters().Concat(model.bn1.parameters()))
        {
            parameter.requires_grad = false;
        }

        using var copy = TrainingCopy.Of(model, CPU, ScalarType.BFloat16);
        copy.PullWeights();
        var (input, target) = Photos();
        nn.functional.cross_entropy(copy.Network.call(copy.ToInput(input)).to(ScalarType.Float32), target).backward();
        copy.PushGradients();

        Assert.IsNull(model.conv1.weight!.grad, "A frozen parameter gets no gradient.");
        Assert.IsNotNull(model.fc.weight!.grad, "A learning parameter gets its gradient.");
    }

    [TestMethod]
    public void Train_TrainInBFloat16_TrainsAFloat32NetworkWhereTheCpuComputesBFloat16()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 24, classes: 3, size: 32);
        var options = ResNetTrainingLoopTests.SmallOptions(epochs: 2);
        options.TrainInBFloat16 = true;

        if (!CpuFeatures.HasNativeBFloat16)
        {
            var error = Assert.ThrowsExactly<InvalidOperationException>(() => ResNetTrainingLoopTests.Train(ml, data, options));
            StringAssert.Contains(error.Message, nameof(options.TrainInBFloat16));
            return;
        }

        using var trained = ResNetTrainingLoopTests.Train(ml, data, options);

        Assert.IsTrue(trained.Model.parameters().All(p => p.dtype == ScalarType.Float32 && p.is_contiguous()), "The trained network keeps float32 NCHW weights.");
        Assert.AreEqual(2, trained.Outcome.CompletedEpochs);
        Assert.IsTrue(trained.Outcome.History.All(e => double.IsFinite(e.Loss)));
    }

    /// <summary>
    /// Each parameter's gradient of one step on the photos through a training copy computing in
    /// <paramref name="computeType"/> (pushed into the network), beside the network's own float32 NCHW gradient.
    /// </summary>
    private static List<(string Name, Tensor Pushed, Tensor Float32)> GradientsThroughCopy(ScalarType computeType)
    {
        using var model = RandomNetwork();
        var (input, target) = Photos();
        nn.functional.cross_entropy(model.call(input), target).backward();
        var float32 = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
        model.zero_grad();

        using var copy = TrainingCopy.Of(model, CPU, computeType);
        copy.PullWeights();
        nn.functional.cross_entropy(copy.Network.call(copy.ToInput(input)).to(ScalarType.Float32), target).backward();
        copy.PushGradients();
        return model.named_parameters().Select(p => (p.name, p.parameter.grad!.clone(), float32[p.name])).ToList();
    }

    private static double RelativeError(Tensor actual, Tensor expected) =>
        (actual - expected).norm().item<float>() / expected.norm().item<float>();

    private static ResNetModel RandomNetwork()
    {
        manual_seed(3);
        var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet18, Classes));
        model.train();
        return model;
    }

    /// <summary>16 committed Tux Paint test photos at 64x64 and their labels.</summary>
    private static (Tensor Input, Tensor Target) Photos()
    {
        var ml = new MLContext(seed: 1);
        var settings = TrainerOptionsResolver.Resolve(new ResNetTrainerOptions { ImageHeight = Size, ImageWidth = Size }, seed: 1);
        var data = TrainingData.LoadImages(ml, Path.Combine(TestPaths.TuxPaintPhotos, "test"), Size);
        var feeder = new BatchFeeder(data, TrainingData.Features, TrainingData.Label, settings with { BatchSize = 16 }, DataSplit.All);
        return feeder.ReadEpoch(0, train: false, CancellationToken.None).First().ToTensors(Size, Size, CPU);
    }
}
