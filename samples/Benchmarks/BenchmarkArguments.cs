using System.Globalization;

namespace ResNetBenchmarks;

/// <summary>Reads "--name value" options from a benchmark's command line.</summary>
/// <remarks>
/// Hand-written, not Spectre.Console.Cli like the console sample: these options are a developer's knobs and the protocol
/// between a harness and the child processes it starts (--phase, --model ...), read by eight harnesses found by
/// reflection; typed settings would cost a class and a registration per harness and change none of what they measure.
/// A bad value is an <see cref="ArgumentException"/> for <c>arguments</c>, which Program reports without a stack trace.
/// </remarks>
internal static class BenchmarkArguments
{
    /// <summary>The parameter name of every bad-argument exception, which Program reports as a usage error.</summary>
    public const string ParameterName = "arguments";

    /// <summary>The value after the first <paramref name="name"/>, or null when it is absent.</summary>
    /// <exception cref="ArgumentException"><paramref name="name"/> is the last argument, without its value.</exception>
    public static string? Value(string[] arguments, string name)
    {
        var index = Array.IndexOf(arguments, name);
        if (index < 0)
        {
            return null;
        }

        return index + 1 < arguments.Length ? arguments[index + 1] : throw new ArgumentException($"{name} needs a value.", ParameterName);
    }

    /// <summary>The positive whole number after <paramref name="name"/>; <paramref name="fallback"/> when it is absent.</summary>
    /// <exception cref="ArgumentException">The value is not a positive whole number.</exception>
    public static int PositiveInt(string[] arguments, string name, int fallback)
    {
        if (Value(arguments, name) is not { } text)
        {
            return fallback;
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value
            : throw new ArgumentException($"{name} takes a positive whole number; got '{text}'.", ParameterName);
    }
}
