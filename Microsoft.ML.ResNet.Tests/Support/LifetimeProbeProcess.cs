using System.Diagnostics;

namespace Microsoft.ML.ResNet.Tests.Support;

/// <summary>
/// Runs samples/LifetimeProbe's scenarios in a child process: a native crash there (exit code 134, 136 or 139) fails the
/// calling test instead of killing the test host, and the process starts without ONNX Runtime or libtorch state.
/// </summary>
internal static class LifetimeProbeProcess
{
    private static readonly object BuildGate = new();
    private static string? _probe;

    /// <summary>Runs <paramref name="scenario"/> on <paramref name="argument"/> (a model file or a folder); returns its output.</summary>
    public static string Run(string scenario, string argument)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var value in new[] { Built(), scenario, argument })
        {
            start.ArgumentList.Add(value);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"LifetimeProbe {scenario} did not finish in 5 minutes:\n{stdout.Result}");
        }

        var output = stdout.Result;
        Assert.AreEqual(0, process.ExitCode, $"LifetimeProbe {scenario} (134 = abort, 136 = floating-point exception, 139 = segmentation fault):\n{output}\n{stderr}");
        StringAssert.Contains(output, $"{scenario}: done");
        return output;
    }

    private static string Built()
    {
        lock (BuildGate)
        {
            if (_probe is null)
            {
                var project = Path.Combine(TestPaths.RepositoryRoot, "samples", "LifetimeProbe");
                Build(project);
                _probe = Path.Combine(project, "bin", "Release", "net10.0", "LifetimeProbe.dll");
            }

            return _probe;
        }
    }

    private static void Build(string project)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var value in new[] { "build", "-c", "Release", project })
        {
            start.ArgumentList.Add(value);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"dotnet build {project} did not finish in 10 minutes");
        }

        Assert.AreEqual(0, process.ExitCode, $"dotnet build {project}:\n{stdout.Result}\n{stderr}");
    }
}
