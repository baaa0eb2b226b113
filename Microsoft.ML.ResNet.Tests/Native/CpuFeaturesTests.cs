using System.Runtime.InteropServices;

namespace Microsoft.ML.ResNet.Tests.Native;

[TestClass]
public sealed class CpuFeaturesTests
{
    [TestMethod]
    public void Has_OnLinuxX64_ReadsTheKernelsFlags()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            Assert.Inconclusive("The flags come from /proc/cpuinfo; this test knows the flags every x86-64 CPU lists.");
        }

        Assert.IsTrue(CpuFeatures.FlagsKnown);
        Assert.IsTrue(CpuFeatures.Has("sse2"), "Every x86-64 CPU has SSE2.");
        Assert.IsFalse(CpuFeatures.Has("no_such_flag"));
        Assert.AreNotEqual(RuntimeInformation.ProcessArchitecture.ToString(), CpuFeatures.ModelName, "The model name comes from /proc/cpuinfo.");
    }

    [TestMethod]
    public void FamilyAndModel_OnLinuxX64_AreTheKernelsNumbersNotTheModelName()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            Assert.Inconclusive("The numbers come from /proc/cpuinfo's x86 fields.");
        }

        // The first processor's "cpu family" and "model" lines, read here by splitting at the colon.
        var fields = File.ReadLines("/proc/cpuinfo").TakeWhile(line => line.Length > 0).Select(line => line.Split(':', 2))
            .Where(parts => parts.Length == 2).ToDictionary(parts => parts[0].Trim(), parts => parts[1].Trim());

        Assert.AreEqual($"family {fields["cpu family"]} model {fields["model"]}", CpuFeatures.FamilyAndModel);
        Assert.IsTrue(int.TryParse(fields["model"], out _), $"'model' must be a number, not the model name '{fields["model"]}'.");
    }

    [TestMethod]
    public void HasVnniAndBFloat16_FollowTheirFlags()
    {
        Assert.AreEqual(CpuFeatures.Has("avx512_vnni") || CpuFeatures.Has("avx_vnni"), CpuFeatures.HasVnni);
        if (CpuFeatures.FlagsKnown)
        {
            Assert.AreEqual(CpuFeatures.Has("avx512_bf16") || CpuFeatures.Has("amx_bf16"), CpuFeatures.HasNativeBFloat16);
        }
    }

    [TestMethod]
    public void Has_BlankFlag_Throws()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => CpuFeatures.Has(" "));

        Assert.AreEqual("flag", error.ParamName);
    }
}
