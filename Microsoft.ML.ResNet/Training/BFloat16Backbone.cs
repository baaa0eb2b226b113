using Microsoft.ML.ResNet.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Training;

/// <summary>
/// A bfloat16 copy of a network, for the forward passes that need no gradient and run on weights that do not change: the
/// linear probe's feature pass and, during fine-tuning, the frozen stages. On a CPU that computes bfloat16 natively
/// (AVX512-BF16, AMX) oneDNN's bfloat16 convolutions run these passes about twice as fast as float32 ones, and they are
/// most of a fine-tuning run's arithmetic (the frozen stages hold most of its multiply-adds and run every step). The
/// network itself stays float32 (its master weights, its learning stages, its gradients, the exported model); only
/// activations leaving this copy were rounded to bfloat16's 8-bit mantissa, which the frozen BatchNorm layers then see as a
/// relative noise of about 0.4%, far below what the augmentation adds.
/// </summary>
internal sealed class BFloat16Backbone : IDisposable
{
    private readonly ResNetModel _copy;

    private BFloat16Backbone(ResNetModel copy) => _copy = copy;

    /// <summary>A copy of <paramref name="model"/>'s current weights in bfloat16, in eval mode on the model's device.</summary>
    public static BFloat16Backbone Of(ResNetModel model, Device device)
    {
        var copy = new ResNetModel(model.Spec);
        try
        {
            copy.load_state_dict(model.state_dict());
            copy.to(device);
            copy.to(ScalarType.BFloat16);
            copy.eval();
            foreach (var parameter in copy.parameters())
            {
                parameter.requires_grad = false;
            }

            ChannelsLast.RestrideWeights(copy);

            return new BFloat16Backbone(copy);
        }
        catch
        {
            copy.Dispose();
            throw;
        }
    }

    /// <summary>The float32 output of the first <paramref name="count"/> stages, computed in bfloat16.</summary>
    public Tensor StagesOutput(Tensor input, int count)
    {
        using var scope = NewDisposeScope();
        return _copy.StagesOutput(ToCopyInput(input), count).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>The output of the first <paramref name="count"/> stages, left in bfloat16 (half a float32 copy's memory).</summary>
    public Tensor StagesOutputInBFloat16(Tensor input, int count)
    {
        using var scope = NewDisposeScope();
        return _copy.StagesOutput(ToCopyInput(input), count).MoveToOuterDisposeScope();
    }

    /// <summary>The float32 pooled features from the output of the first <paramref name="firstStage"/> stages, computed in bfloat16.</summary>
    public Tensor FeaturesFrom(Tensor stagesOutput, int firstStage)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return _copy.FeaturesFrom(ToCopyInput(stagesOutput), firstStage).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>The float32 pooled features, computed in bfloat16.</summary>
    public Tensor Features(Tensor input)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return _copy.Features(ToCopyInput(input)).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    public void Dispose() => _copy.Dispose();

    // Channels-last because NCHW bfloat16 makes oneDNN reorder every convolution's input and output: measured on the AMD EPYC
    // (AVX512-BF16, 2 cores, under load), the pooled-features pass over 128 photos at 224x224 took 6.7-8.9 s channels-last
    // against 9.6-12.8 s NCHW and 24.3 s in float32. The copy is never saved, so its layout is free to choose.
    private static Tensor ToCopyInput(Tensor input) => ChannelsLast.Of(input, ScalarType.BFloat16);
}
