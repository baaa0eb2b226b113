using Microsoft.ML.ResNet.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Training;

/// <summary>
/// A channels-last copy of the network that runs each training step's forward and backward pass, in float32 or in
/// bfloat16 (mixed precision without autocast, which TorchSharp 0.107 lacks), while the network itself keeps float32 NCHW
/// master weights, the optimizer and its state, the checkpoints and the export. Before a step the learning weights are
/// copied (rounded, in bfloat16) into the copy; after it the copy's gradients are copied back (widened) into the
/// network's, which the optimizer applies in float32, so updates too small for bfloat16 still accumulate.
/// </summary>
/// <remarks>
/// Channels-last because oneDNN computes convolutions in it: in NCHW it reorders every convolution's input and output, a
/// third of its time in a ResNet-34 step (ONEDNN_VERBOSE, AMD EPYC); TorchSharp writes no non-contiguous tensor to a
/// checkpoint, hence a copy rather than restriding the network. In bfloat16 the convolutions and the head compute in
/// bfloat16 while BatchNorm stays float32 (libtorch normalizes bfloat16 input with float32 parameters; its bfloat16
/// BatchNorm backward is ten times slower than float32's on that CPU), and the loss is computed in float32: what PyTorch's
/// <c>torch.autocast("cpu", dtype=torch.bfloat16)</c> keeps in float32 too. BatchNorm shares the network's running
/// statistics. See the training benchmark for what each costs and gains.
/// </remarks>
internal sealed class TrainingCopy : IDisposable
{
    private readonly ResNetModel _copy;
    private readonly (Parameter Master, Parameter Copy)[] _learning;
    private readonly ScalarType _computeType;

    private TrainingCopy(ResNetModel copy, (Parameter, Parameter)[] learning, ScalarType computeType) =>
        (_copy, _learning, _computeType) = (copy, learning, computeType);

    /// <summary>The network to run the step's forward pass on, its input through <see cref="ToInput"/>.</summary>
    public ResNetModel Network => _copy;

    /// <summary>
    /// A copy of <paramref name="model"/> on <paramref name="device"/> computing in <paramref name="computeType"/> (float32 or
    /// bfloat16); only the parameters with <c>requires_grad</c> learn.
    /// </summary>
    public static TrainingCopy Of(ResNetModel model, Device device, ScalarType computeType)
    {
        var copy = new ResNetModel(model.Spec);
        try
        {
            copy.load_state_dict(model.state_dict());
            copy.to(device);
            if (computeType != ScalarType.Float32)
            {
                copy.to(computeType);
                foreach (var batchNorm in copy.modules().OfType<BatchNorm2d>())
                {
                    batchNorm.to(ScalarType.Float32);
                }
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
                }
            }

            ChannelsLast.RestrideWeights(copy);

            var learning = model.parameters().Zip(copy.parameters()).Where(pair => pair.First.requires_grad).ToArray();
            return new TrainingCopy(copy, learning, computeType);
        }
        catch
        {
            copy.Dispose();
            throw;
        }
    }

    /// <summary>The step's input (pixels, or a frozen prefix's output) in the copy's type and layout.</summary>
    public Tensor ToInput(Tensor input) => ChannelsLast.Of(input, _computeType);

    /// <summary>Copies the network's current learning weights into the copy; call before each step's forward pass.</summary>
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

    /// <summary>Copies the copy's gradients into the network's; call after <c>backward</c>, before the optimizer's step.</summary>
    public void PushGradients()
    {
        using var noGrad = no_grad();
        foreach (var (master, copy) in _learning)
        {
            if (copy.grad is { } gradient)
            {
                // The network's own (NCHW, float32) gradient tensor, made once and refilled every step.
                master.grad ??= empty_like(master);
                master.grad.copy_(gradient);
            }
        }
    }

    public void Dispose() => _copy.Dispose();
}
