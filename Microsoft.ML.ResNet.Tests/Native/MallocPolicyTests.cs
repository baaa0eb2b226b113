using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.ML.ResNet.Native;
using Microsoft.ML.ResNet.Tests.Support;

namespace Microsoft.ML.ResNet.Tests.Native;

[TestClass]
public sealed class MallocPolicyTests
{
    /// <summary>
    /// In a fresh process, so that glibc starts from its defaults: rounds of two 20 MB blocks and one of 48 MB (above
    /// any map threshold glibc accepts) allocated, written and freed fault their pages in again every round, and after
    /// the policy they do not.
    /// </summary>
    [TestMethod]
    public void KeepFreedMemory_StepShapedRounds_StopFaultingTheirPagesInAgain()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Inconclusive("The policy is glibc's mallopt; elsewhere it changes nothing.");
        }

        using var folder = TempFolder.Create();

        var output = LifetimeProbeProcess.Run("malloc-policy", folder.Path);

        var line = output.Split('\n').Single(l => l.StartsWith("malloc-policy: changed", StringComparison.Ordinal));
        StringAssert.Contains(line, "changed True");
        var faults = Regex.Matches(line, @"\d+").Select(m => long.Parse(m.Value, CultureInfo.InvariantCulture)).ToArray();
        var (before, after) = (faults[0], faults[1]);
        Assert.IsGreaterThan(10_000L, before, $"88 MB of fresh pages a round is about 22,500 faults with glibc's defaults: {line}");
        Assert.IsLessThan(before / 10, after, line);
    }

    [TestMethod]
    public void KeepFreedMemory_UserTunedMalloc_ChangesNothing()
    {
        const string Variable = "MALLOC_TRIM_THRESHOLD_";
        var saved = Environment.GetEnvironmentVariable(Variable);
        Environment.SetEnvironmentVariable(Variable, "131072");
        try
        {
            Assert.IsFalse(MallocPolicy.KeepFreedMemory());
        }
        finally
        {
            Environment.SetEnvironmentVariable(Variable, saved);
        }
    }
}
