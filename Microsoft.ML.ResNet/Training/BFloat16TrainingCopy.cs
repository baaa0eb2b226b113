using Microsoft.ML.ResNet.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Training;

/// <summary>
/// Mixed-precision training without autocast (TorchSharp 0.107 has none): a copy of the network whose convolutions and head
/// compute in bfloat16, channels-last, runs each step's forward and backward pass, while the network itself keeps float32
/// master weights, the optimizer and its state, the checkpoints and the export. Before a step the learning weights are
/// rounded into the copy; after it the copy's gradients are widened into the network's, which the optimizer applies in
/// float32, so updates too small for bfloat16 still accumulate. BatchNorm stays float32 (libtorch normalizes bfloat16 input
/// with float32 parameters) and shares the network's running statistics, and the loss is computed in float32: what
/// PyTorch's <c>torch.autocast("cpu", dtype=torch.bfloat16)</c> keeps in float32 too. On the AMD EPYC of these machines
/// (AVX512-BF16) oneDNN's bfloat16 convolutions are about twice as fast as float32 ones, and its bfloat16 BatchNorm backward
/// ten times slower than float32's, hence the split (see the training benchmark).
/// </summary>
internal sealed class BFloat16TrainingCopy : IDisposable
{
    private readonly ResNetModel _copy;
    private readonly (Parameter Master, Parameter Copy)[] _learning;

    private BFloat16TrainingCopy(ResNetModel copy, (Parameter, Parameter)[] learning) => (_copy, _learning) = (copy, learning);

    /// <summary>The bfloat16 network to run the step's forward pass on (its input through <see cref="ToInput"/>).</summary>
    public ResNetModel Network => _copy;

    /// <summary>A copy of <paramref name="model"/> on <paramref name="device"/>; only its parameters with <c>requires_grad</c> learn.</summary>
    public static BFloat16TrainingCopy Of(ResNetModel model, Device device)
    {
        var copy = new ResNetModel(model.Spec);
        try
        {
            copy.load_state_dict(model.state_dict());
            copy.to(device);
            copy.to(ScalarType.BFloat16);
            foreach (var batchNorm in copy.modules().OfType<BatchNorm2d>())
            {
                batchNorm.to(ScalarType.Float32);
            }

            using (no_grad())
            {
                // The copy's BatchNorm layers update the network's own running statistics.
                foreach (var ((_, master), (_, buffer)) in model.named_buffers().Zip(copy.named_buffers()))
                {
                    buffer.set_(master);
                }

                foreach (var ((_, master), (_, parameter)) in model.named_parameters().Zip(copy.named_parameters()))
                {
                    parameter.requires_grad = master.requires_grad;
                    if (parameter.dim() == 4)
                    {
                        using var channelsLast = ChannelsLast.Of(parameter);
                        parameter.set_(channelsLast);
                    }
                }
            }

            var learning = model.parameters().Zip(copy.parameters()).Where(pair => pair.First.requires_grad).ToArray();
            return new BFloat16TrainingCopy(copy, learning);
        }
        catch
        {
            copy.Dispose();
            throw;
        }
    }

    /// <summary>The step's input (pixels, or a frozen prefix's output) in the copy's type and layout.</summary>
    public static Tensor ToInput(Tensor input)
    {
        using var bfloat16 = input.to(ScalarType.BFloat16);
        return ChannelsLast.Of(bfloat16);
    }

    /// <summary>Rounds the network's current learning weights into the copy; call before each step's forward pass.</summary>
    public void PullWeights()
    {
        using var noGrad = no_grad();
        foreach (var (master, copy) in _learning)
        {
            copy.copy_(master);
        }
    }

    /// <summary>Clears the copy's gradients; call with the optimizer's <c>zero_grad</c>.</summary>
    public void ZeroGradients() => _copy.zero_grad();

    /// <summary>Widens the copy's gradients into the network's; call after <c>backward</c>, before the optimizer's step.</summary>
    public void PushGradients()
    {
        using var noGrad = no_grad();
        foreach (var (master, copy) in _learning)
        {
            if (copy.grad is not { } gradient)
            {
                continue;
            }

            if (master.grad is { } existing)
            {
                existing.copy_(gradient);
            }
            else
            {
                master.grad = gradient.to(ScalarType.Float32).contiguous();
            }
        }
    }

    public void Dispose() => _copy.Dispose();
}
