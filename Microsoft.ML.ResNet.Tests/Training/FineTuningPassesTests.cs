using Microsoft.ML.ResNet.Training;

namespace Microsoft.ML.ResNet.Tests.Training;

/// <summary>
/// The size rule: 3 epochs of layer3, layer4 and the head at 112x112 and below, fewer in proportion to the input's area
/// above it, and one epoch of layer4 and the head where not one epoch of layer3 and layer4 fits.
/// </summary>
[TestClass]
public sealed class FineTuningPassesTests
{
    [TestMethod]
    [DataRow(32, 32, 3, 3)]
    [DataRow(64, 64, 3, 3)]
    [DataRow(112, 112, 3, 3)]
    [DataRow(128, 128, 2, 3)]
    [DataRow(144, 144, 1, 3)]
    [DataRow(160, 160, 1, 3)]
    [DataRow(192, 192, 1, 3)]
    [DataRow(208, 208, 1, 4)]
    [DataRow(224, 224, 1, 4)]
    public void For_SquareInput_HoldsTheCostOfThreeEpochsAt112(int height, int width, int epochs, int frozenStages)
    {
        Assert.AreEqual((epochs, frozenStages), FineTuningPasses.For(height, width));
    }

    /// <summary>
    /// The area decides, not a side: 128x256 has less area than 194x194, so one epoch of layer3 and layer4 fits, where the
    /// longer side alone (256) would have frozen layer3 and the shorter (128) would have given two epochs.
    /// </summary>
    [TestMethod]
    [DataRow(128, 256, 1, 3)]
    [DataRow(256, 128, 1, 3)]
    [DataRow(96, 160, 2, 3)]
    [DataRow(112, 224, 1, 3)]
    [DataRow(160, 240, 1, 4)]
    public void For_NonSquareInput_FollowsTheArea(int height, int width, int epochs, int frozenStages)
    {
        Assert.AreEqual((epochs, frozenStages), FineTuningPasses.For(height, width));
    }

    [TestMethod]
    [DataRow(112, 3)]
    [DataRow(128, 2)]
    [DataRow(224, 1)]
    public void EpochsFor_TheUsersOwnStages_AtLeastOneEpoch(int side, int epochs)
    {
        Assert.AreEqual(epochs, FineTuningPasses.EpochsFor(side, side));
    }
}
