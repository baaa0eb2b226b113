using Microsoft.ML.ResNet.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Tests.Training;

/// <summary>The AdamW step that frees its temporaries early computes TorchSharp's AdamW exactly.</summary>
[TestClass]
public sealed class InPlaceAdamWTests
{
    [TestMethod]
    [DataRow(0.05)]
    [DataRow(0.0)]
    public void Step_ThreeStepsOfTwoGroups_EqualsTorchSharpsAdamWBitForBit(double weightDecay)
    {
        using var scope = NewDisposeScope();
        var (reference, ours) = (OptimizerTestNetwork.Create(), OptimizerTestNetwork.Create());
        using var torchSharp = new AdamW(OptimizerTestNetwork.Groups(reference, (p, lr) => new AdamW.ParamGroup(p, lr, weight_decay: weightDecay)), 1e-3, weight_decay: weightDecay);
        using var inPlace = new InPlaceAdamW(OptimizerTestNetwork.Groups(ours, (p, lr) => new AdamW.ParamGroup(p, lr, weight_decay: weightDecay)), 1e-3, weightDecay);

        OptimizerTestNetwork.AssertSameAfterSteps(reference, torchSharp, ours, inPlace, steps: 3);
    }
}
