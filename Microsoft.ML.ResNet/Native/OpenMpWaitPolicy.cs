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
