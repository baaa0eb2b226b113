namespace ResNetBenchmarks;

/// <summary>One measured harness; Program finds every implementation by reflection.</summary>
internal interface IBenchmark
{
    /// <summary>The command-line name, e.g. "export".</summary>
    string Name { get; }

    /// <summary>What it measures and against what, for --help.</summary>
    string Description { get; }

    /// <summary>Whether Program loads libtorch before <see cref="Run"/>; a harness that times process startup loads it itself, only where needed.</summary>
    bool NeedsTorch => true;

    /// <summary>Runs the measurement and prints a table of results.</summary>
    void Run(string[] arguments);
}
