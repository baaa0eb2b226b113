using Microsoft.ML.ResNet.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Tests.Modeling;

[TestClass]
public sealed class ProjectionShortcutTests
{
    [TestMethod]
    [DataRow(7)]
    [DataRow(8)]
    public void Forward_StridedPointwiseProjection_SameValuesAndGradientsAsTheModule(int size)
    {
        manual_seed(3);
        using var downsample = nn.Sequential(("0", nn.Conv2d(64, 128, 1, stride: 2, bias: false)), ("1", nn.BatchNorm2d(128)));
        downsample.train();
        using var input = randn(2, 64, size, size);

        var (expected, expectedGradient) = OutputAndWeightGradient(downsample, input, d => d.call(input));
        var (actual, actualGradient) = OutputAndWeightGradient(downsample, input, d => ProjectionShortcut.Forward(d, input));

        Assert.IsTrue(expected.allclose(actual, rtol: 0, atol: 1e-6), "outputs differ");
        var gradientDifference = (expectedGradient - actualGradient).abs().max().item<float>() / expectedGradient.abs().max().item<float>();
        Assert.IsLessThan(1e-5f, gradientDifference, "relative difference of weight gradients");
    }

    [TestMethod]
    public void Backward_ResNet50OnCpu_CompletesWithFiniteGradients()
    {
        // Through libtorch's own strided 1x1 kernel this backward dies with SIGFPE (see ProjectionShortcut).
        manual_seed(4);
        using var model = new ResNetModel(new ResNetSpec(ResNetArchitecture.ResNet50, 10));
        model.train();
        using var input = randn(2, 3, 32, 32);

        using var loss = model.call(input).square().mean();
        loss.backward();

        var gradient = model.layer3.named_parameters().Single(p => p.name == "0.downsample.0.weight").parameter.grad;
        Assert.IsNotNull(gradient);
        Assert.IsTrue(gradient.isfinite().all().item<bool>());
        Assert.IsTrue(gradient.abs().sum().item<float>() > 0f);
    }

    private static (Tensor Output, Tensor WeightGradient) OutputAndWeightGradient(
        TorchSharp.Modules.Sequential downsample, Tensor input, Func<TorchSharp.Modules.Sequential, Tensor> forward)
    {
        downsample.zero_grad();
        var output = forward(downsample);

        // Not a sum of squares: after training-mode BatchNorm that is a constant with a vanishing gradient.
        manual_seed(5);
        using var direction = randn_like(output);
        (output * direction).sum().backward();
        var weight = downsample.parameters().First();
        return (output.detach().clone(), weight.grad!.clone());
    }
}
