using System.Diagnostics;

namespace ResNetBenchmarks;

/// <summary>Runs this benchmark program again as a child process, for a measurement that needs a process of its own.</summary>
internal static class ChildProcess
{
    /// <summary>Runs the program with <paramref name="arguments"/> and waits for it; returns its exit code and output.</summary>
    public static (int ExitCode, string Output, string Error) RunSelf(IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true };

        // Started as "dotnet ResNetBenchmarks.dll" the process is the dotnet host, which needs the assembly again.
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
        {
            start.ArgumentList.Add(typeof(ChildProcess).Assembly.Location);
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;

        // Both pipes are drained at once: a child that fills one while we wait on the other would never exit.
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output, error.Result);
    }
}
