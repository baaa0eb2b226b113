using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Tests.Training;

/// <summary>
/// A small convolution + BatchNorm + linear network in two parameter groups (the trainer's backbone and head, at different
/// rates), and the check that two optimizers leave two copies of it with identical weights after the same gradients.
/// </summary>
internal static class OptimizerTestNetwork
{
    public static nn.Module<Tensor, Tensor> Create()
    {
        manual_seed(7);
        return nn.Sequential(
            ("conv", nn.Conv2d(3, 8, 3, padding: 1, bias: false)),
            ("bn", nn.BatchNorm2d(8)),
            ("pool", nn.AdaptiveAvgPool2d(1)),
            ("flatten", nn.Flatten()),
            ("fc", nn.Linear(8, 4)));
    }

    /// <summary>The backbone at the base rate, the head (fc) at ten times it, as the trainer's fine-tuning groups.</summary>
    public static IEnumerable<TGroup> Groups<TGroup>(nn.Module<Tensor, Tensor> network, Func<IEnumerable<Parameter>, double, TGroup> group)
    {
        var named = network.named_parameters().ToList();
        yield return group(named.Where(p => !p.name.StartsWith("fc.", StringComparison.Ordinal)).Select(p => p.parameter).ToList(), 0.01);
        yield return group(named.Where(p => p.name.StartsWith("fc.", StringComparison.Ordinal)).Select(p => p.parameter).ToList(), 0.1);
    }

    public static void Step(nn.Module<Tensor, Tensor> network, TorchSharp.Modules.OptimizerHelper optimizer, int seed)
    {
        using var scope = NewDisposeScope();
        manual_seed(seed);
        var input = randn(4, 3, 8, 8);
        var target = randint(0, 4, [4], dtype: ScalarType.Int64);
        optimizer.zero_grad();
        nn.functional.cross_entropy(network.call(input), target).backward();
        optimizer.step();
    }

    public static void CopyWeights(nn.Module<Tensor, Tensor> from, nn.Module<Tensor, Tensor> to)
    {
        using var noGrad = no_grad();
        foreach (var ((_, source), (_, target)) in from.named_parameters().Zip(to.named_parameters()))
        {
            target.copy_(source);
        }
    }

    public static void AssertSameAfterSteps(
        nn.Module<Tensor, Tensor> reference, TorchSharp.Modules.OptimizerHelper referenceOptimizer,
        nn.Module<Tensor, Tensor> ours, TorchSharp.Modules.OptimizerHelper ourOptimizer,
        int steps, int firstSeed = 1)
    {
        var start = ours.named_parameters().ToDictionary(p => p.name, p => p.parameter.data<float>().ToArray());
        for (var seed = firstSeed; seed < firstSeed + steps; seed++)
        {
            Step(reference, referenceOptimizer, seed);
            Step(ours, ourOptimizer, seed);
        }

        foreach (var ((name, expected), (_, actual)) in reference.named_parameters().Zip(ours.named_parameters()))
        {
            CollectionAssert.AreEqual(expected.data<float>().ToArray(), actual.data<float>().ToArray(), $"'{name}' differs after {steps} steps.");
            CollectionAssert.AreNotEqual(start[name], actual.data<float>().ToArray(), $"'{name}' did not change, so the comparison means nothing.");
        }
    }
}
