using System.Diagnostics;

namespace Microsoft.ML.ResNet.Tests.Support;

/// <summary>Ending the child processes the sample tests start (the WebApp, headless chromium), whatever state they are in.</summary>
internal static class ChildProcess
{
    /// <summary>Kills <paramref name="process"/> and its children if it still runs, waits for it briefly, and disposes it.</summary>
    public static void Stop(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // It exited between the check and the kill.
        }

        process.Dispose();
    }
}
