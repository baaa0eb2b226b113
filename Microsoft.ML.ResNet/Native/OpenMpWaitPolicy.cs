using System.Runtime.InteropServices;

namespace Microsoft.ML.ResNet.Native;

/// <summary>
/// Makes libtorch's OpenMP threads sleep rather than spin while they wait, unless the user chose otherwise.
/// </summary>
/// <remarks>
/// libgomp's default lets idle threads busy-wait. When anything else wants the same cores (a second
/// process, ML.NET's own threads, the trainer's data producer) the spinning threads steal the time the
/// working ones need: measured here on 2 shared cores, a ResNet-34 training step took 1.6-3.6 s with
/// spinning and 0.6-0.8 s with OMP_WAIT_POLICY=PASSIVE. libgomp reads the variable once, when it is
/// loaded, and from the native environment (which .NET's Environment.SetEnvironmentVariable does not
/// change on Unix), hence libc's setenv before libtorch loads.
/// <para>The price, measured again on an AMD EPYC with 2 cores (2026-12-03): on a quiet machine a lone fixed-batch step
/// is 10-20% faster with a short spin (GOMP_SPINCOUNT=10000-30000) than passive; with one busy thread competing it is
/// 30-55% slower (18-24 against 32-35 images/s); through the trainer's own feeder, whose producer thread decodes images
/// beside the step, passive and libgomp's default spin were level (52.6 and 52.2 images/s). So passive stays the
/// default, and a user with dedicated cores can set OMP_WAIT_POLICY or GOMP_SPINCOUNT, which this leaves alone.</para>
/// </remarks>
internal static partial class OpenMpWaitPolicy
{
    public const string Variable = "OMP_WAIT_POLICY";
    public const string Passive = "PASSIVE";

    /// <summary>Sets OMP_WAIT_POLICY=PASSIVE in the native environment unless it is already set.</summary>
    public static void PreferPassive()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable(Variable) is not null)
        {
            return;
        }

        try
        {
            _ = SetEnvironment(Variable, Passive, overwrite: 0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Without libc's setenv the default (spinning) policy stays: slower under contention, still correct.
        }
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnvironment(string name, string value, int overwrite);
}
