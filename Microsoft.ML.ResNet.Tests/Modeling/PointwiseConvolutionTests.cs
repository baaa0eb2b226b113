using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Tests.Modeling;

/// <summary>
/// 1x1 convolutions on channels-last input go through a matrix product: the values and gradients of the module's own
/// NCHW convolution. libtorch 2.10's channels-last float32 256->512 returned values 14% off on an AMD EPYC of family 26.
/// </summary>
[TestClass]
public sealed class PointwiseConvolutionTests
{
    [TestMethod]
    [DataRow(256, 512, 1)]
    [DataRow(256, 512, 2)]
    [DataRow(64, 128, 2)]
    public void Forward_Float32ChannelsLast_GivesTheNchwValuesAndGradients(int inputs, int outputs, int stride)
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var convolution = nn.Conv2d(inputs, outputs, 1, stride: stride, bias: false);
        var input = randn(4, inputs, 8, 8);
        var direction = randn(4, outputs, 8 / stride, 8 / stride);

        var (expected, expectedGradient) = OutputAndWeightGradient(convolution, input, direction, channelsLast: false);
        var (actual, actualGradient) = OutputAndWeightGradient(convolution, input, direction, channelsLast: true);

        Assert.IsLessThan(1e-6, RelativeError(actual, expected), "output");
        Assert.IsLessThan(1e-6, RelativeError(actualGradient, expectedGradient), "weight gradient");
    }

    /// <summary>In bfloat16 the product rounds as a bfloat16 convolution would: about 0.3% off float32's values.</summary>
    [TestMethod]
    public void Forward_BFloat16ChannelsLast_GivesTheFloat32ValuesToBFloat16Precision()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var convolution = nn.Conv2d(512, 1024, 1, bias: false);
        var input = randn(2, 512, 4, 4);
        Tensor expected;
        using (no_grad())
        {
            expected = convolution.call(input);
        }

        convolution.to(ScalarType.BFloat16);
        ChannelsLast.RestrideWeights(convolution);
        Tensor actual;
        using (no_grad())
        {
            actual = PointwiseConvolution.Forward(convolution, ChannelsLast.Of(input, ScalarType.BFloat16)).to(ScalarType.Float32);
        }

        Assert.IsLessThan(0.01, RelativeError(actual, expected));
    }

    private static (Tensor Output, Tensor WeightGradient) OutputAndWeightGradient(TorchSharp.Modules.Conv2d convolution, Tensor input, Tensor direction, bool channelsLast)
    {
        using var copy = nn.Conv2d(convolution.in_channels, convolution.out_channels, 1, stride: convolution.stride[0], bias: false);
        using (no_grad())
        {
            copy.weight!.copy_(convolution.weight!);
        }

        if (channelsLast)
        {
            ChannelsLast.RestrideWeights(copy);
        }

        var output = channelsLast ? PointwiseConvolution.Forward(copy, ChannelsLast.Of(input)) : copy.call(input);
        (output * direction).sum().backward();
        return (output.detach().contiguous(), copy.weight!.grad!.contiguous().clone());
    }

    private static double RelativeError(Tensor actual, Tensor expected) =>
        (actual - expected).norm().item<float>() / expected.norm().item<float>();
}
