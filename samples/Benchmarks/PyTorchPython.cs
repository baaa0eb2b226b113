using System.ComponentModel;
using System.Diagnostics;

namespace ResNetBenchmarks;

/// <summary>
/// The Python that runs a benchmark's PyTorch side: the interpreter <see cref="Variable"/> names, else Debian's
/// /usr/bin/python3, where python3-torch installs (a pyenv python3 first on PATH does not see it). The tests and the
/// file-based apps follow the same rule.
/// </summary>
internal static class PyTorchPython
{
    /// <summary>Names another interpreter than Debian's.</summary>
    public const string Variable = "RESNETML_PYTHON";

    private const string DebianPython = "/usr/bin/python3";

    // The tools/pytorch_*.py scripts import both.
    private const string Modules = "torch, torchvision";

    // Checked once per run; a failed check is kept, so every caller reports the same reason.
    private static readonly Lazy<string> CheckedInterpreter = new(FindInterpreter, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Throws unless the interpreter exists and imports torch and torchvision: a harness calls it before it measures anything.</summary>
    /// <exception cref="UnavailableException">The interpreter is missing or cannot import them; the message names it and <see cref="Variable"/>.</exception>
    public static void EnsureAvailable() => _ = CheckedInterpreter.Value;

    /// <summary>How to run <paramref name="script"/> with <paramref name="arguments"/>, both output streams redirected.</summary>
    /// <exception cref="UnavailableException">As for <see cref="EnsureAvailable"/>.</exception>
    public static ProcessStartInfo Start(string script, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(CheckedInterpreter.Value) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }

    private static string FindInterpreter()
    {
        var named = Environment.GetEnvironmentVariable(Variable);
        var python = string.IsNullOrEmpty(named) ? DebianPython : named;
        var which = string.IsNullOrEmpty(named) ? $"Debian's ({Variable} is not set)" : $"named by {Variable}";
        var remedy = string.IsNullOrEmpty(named)
            ? $"apt-get install python3-torch python3-torchvision, or set {Variable} to a python3 that imports {Modules}"
            : $"set {Variable} to a python3 that imports {Modules}, or unset it for Debian's {DebianPython} (apt-get install python3-torch python3-torchvision)";
        if (!File.Exists(python))
        {
            throw new UnavailableException($"No Python interpreter at {python}, {which}: {remedy}.");
        }

        var check = new ProcessStartInfo(python, ["-c", $"import {Modules}"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        try
        {
            using var process = Process.Start(check)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                throw new UnavailableException($"{python}, {which}, cannot import {Modules} (exit {process.ExitCode}): {remedy}.\n{output.Result}{error}");
            }
        }
        catch (Win32Exception e)
        {
            throw new UnavailableException($"{python}, {which}, does not start ({e.Message}): {remedy}.");
        }

        return python;
    }

    /// <summary>PyTorch cannot run: the interpreter is missing, does not start, or lacks torch or torchvision.</summary>
    internal sealed class UnavailableException(string message) : Exception(message);
}
