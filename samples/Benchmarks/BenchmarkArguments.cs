using System.Globalization;

namespace ResNetBenchmarks;

/// <summary>Reads "--name value" options from a benchmark's command line.</summary>
internal static class BenchmarkArguments
{
    /// <summary>The value after the first <paramref name="name"/>, or null when it is absent or last.</summary>
    public static string? Value(string[] arguments, string name)
    {
        var index = Array.IndexOf(arguments, name);
        return index >= 0 && index + 1 < arguments.Length ? arguments[index + 1] : null;
    }

    /// <summary>The positive whole number after <paramref name="name"/>; <paramref name="fallback"/> when it is absent or not one.</summary>
    public static int PositiveInt(string[] arguments, string name, int fallback) =>
        int.TryParse(Value(arguments, name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value
            : fallback;
}
