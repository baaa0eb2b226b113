namespace ResNetBenchmarks;

/// <summary>One measured harness; Program finds every implementation by reflection.</summary>
internal interface IBenchmark
{
    /// <summary>The command-line name, e.g. "export".</summary>
    string Name { get; }

    /// <summary>What it measures and against what, for --help.</summary>
    string Description { get; }

    /// <summary>Runs the measurement and prints a table of results.</summary>
    void Run(string[] arguments);
}
