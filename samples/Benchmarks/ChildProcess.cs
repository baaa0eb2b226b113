using System.Diagnostics;

namespace ResNetBenchmarks;

/// <summary>Runs this benchmark program again as a child process, for a measurement that needs a process of its own.</summary>
internal static class ChildProcess
{
    /// <summary>Runs the program with <paramref name="arguments"/> and waits for it; returns its exit code and output.</summary>
    /// <param name="arguments">The child's command line.</param>
    /// <param name="environment">Variables set in the child's environment on top of this process's.</param>
    public static (int ExitCode, string Output, string Error) RunSelf(IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

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
