using Microsoft.ML.ResNet.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Tests.Training;

/// <summary>The in-place SGD step computes TorchSharp's SGD exactly, so swapping it in changes speed, not training.</summary>
[TestClass]
public sealed class InPlaceSgdTests
{
    [TestMethod]
    [DataRow(true, 5e-4)]
    [DataRow(false, 5e-4)]
    [DataRow(true, 0.0)]
    public void Step_ThreeStepsOfTwoGroups_EqualsTorchSharpsSgdBitForBit(bool nesterov, double weightDecay)
    {
        using var scope = NewDisposeScope();
        var (reference, ours) = (OptimizerTestNetwork.Create(), OptimizerTestNetwork.Create());
        using var torchSharp = new SGD(OptimizerTestNetwork.Groups(reference, (p, lr) => new SGD.ParamGroup(p, lr, 0.9, weight_decay: weightDecay, nesterov: nesterov)), 0.1, 0.9, weight_decay: weightDecay, nesterov: nesterov);
        using var inPlace = new InPlaceSgd(OptimizerTestNetwork.Groups(ours, (p, lr) => new SGD.ParamGroup(p, lr, 0.9, weight_decay: weightDecay, nesterov: nesterov)), 0.1, 0.9, weightDecay, nesterov);

        OptimizerTestNetwork.AssertSameAfterSteps(reference, torchSharp, ours, inPlace, steps: 3);
    }

    /// <summary>A checkpoint's optimizer file: the momentum saved after one step, loaded into a new optimizer, continues the run.</summary>
    [TestMethod]
    public void SaveStateDict_AfterAStep_ResumesIdentically()
    {
        using var scope = NewDisposeScope();
        var (reference, ours) = (OptimizerTestNetwork.Create(), OptimizerTestNetwork.Create());
        using var inPlace = new InPlaceSgd(OptimizerTestNetwork.Groups(ours, (p, lr) => new SGD.ParamGroup(p, lr, 0.9, weight_decay: 5e-4, nesterov: true)), 0.1, 0.9, 5e-4, nesterov: true);
        using var resumed = new InPlaceSgd(OptimizerTestNetwork.Groups(reference, (p, lr) => new SGD.ParamGroup(p, lr, 0.9, weight_decay: 5e-4, nesterov: true)), 0.1, 0.9, 5e-4, nesterov: true);
        OptimizerTestNetwork.Step(ours, inPlace, seed: 1);
        using var saved = new MemoryStream();
        using (var writer = new BinaryWriter(saved, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            inPlace.save_state_dict(writer);
        }

        saved.Position = 0;
        using (var reader = new BinaryReader(saved))
        {
            resumed.load_state_dict(reader);
        }

        OptimizerTestNetwork.CopyWeights(from: ours, to: reference);
        OptimizerTestNetwork.AssertSameAfterSteps(reference, resumed, ours, inPlace, steps: 2, firstSeed: 2);
    }
}
