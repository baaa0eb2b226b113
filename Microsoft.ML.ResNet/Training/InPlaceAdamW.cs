using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Training;

/// <summary>
/// TorchSharp's AdamW (without AMSGrad) with the same update, state and checkpoint format, whose one temporary per
/// parameter (the denominator) is freed as soon as that parameter is updated. TorchSharp's own step keeps two temporaries
/// per parameter until the step ends, so a step over a whole network allocates twice the network's size in fresh memory
/// (see <see cref="InPlaceSgd"/> for what that costs). The values are bit for bit TorchSharp's
/// (<c>InPlaceAdamWTests</c>).
/// </summary>
internal sealed class InPlaceAdamW : AdamW
{
    public InPlaceAdamW(IEnumerable<ParamGroup> groups, double learningRate, double weightDecay)
        : base(groups, learningRate, weight_decay: weightDecay)
    {
    }

    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(
        group =>
        {
            var options = group.Options;
            var (beta1, beta2) = (options.beta1!.Value, options.beta2!.Value);
            var learningRate = options.LearningRate!.Value;
            var (weightDecay, epsilon) = (options.weight_decay!.Value, options.eps!.Value);
            foreach (var parameter in group.Parameters)
            {
                if (parameter.grad is not { } gradient)
                {
                    continue;
                }

                var state = (State)_state[parameter.Handle];
                state.step += 1;
                parameter.mul_(1 - learningRate * weightDecay);
                var biasCorrection1 = 1 - Math.Pow(beta1, state.step);
                var biasCorrection2 = 1 - Math.Pow(beta2, state.step);
                state.exp_avg.mul_(beta1).add_(gradient, alpha: 1 - beta1);
                state.exp_avg_sq.mul_(beta2).addcmul_(gradient, gradient, value: 1 - beta2);
                using var denominator = state.exp_avg_sq.sqrt();
                denominator.div_(Math.Sqrt(biasCorrection2)).add_(epsilon);
                parameter.addcdiv_(state.exp_avg, denominator, value: -learningRate / biasCorrection1);
            }
        },
        closure);
}
