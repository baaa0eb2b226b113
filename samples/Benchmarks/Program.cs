using System.Reflection;
using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Native;
using ResNetBenchmarks;

// Usage: dotnet run -c Release --project samples/Benchmarks -- <name|all> [options]
// Each harness measures ours and its comparison in the same run, on this machine.
var benchmarks = Assembly.GetExecutingAssembly().GetTypes()
    .Where(t => typeof(IBenchmark).IsAssignableFrom(t) && t is { IsClass: true, IsAbstract: false })
    .Select(t => (IBenchmark)Activator.CreateInstance(t)!)
    .OrderBy(b => b.Name)
    .ToList();

if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.WriteLine("Benchmarks (dotnet run -c Release --project samples/Benchmarks -- <name|all>):");
    foreach (var benchmark in benchmarks)
    {
        Console.WriteLine($"  {benchmark.Name,-10} {benchmark.Description}");
    }

    return 0;
}

var selected = args[0] == "all" ? benchmarks : benchmarks.Where(b => b.Name == args[0]).ToList();
if (selected.Count == 0)
{
    Console.Error.WriteLine($"Unknown benchmark '{args[0]}'. Known: {string.Join(", ", benchmarks.Select(b => b.Name))}, all.");
    return 2;
}

try
{
    foreach (var benchmark in selected)
    {
        if (benchmark.NeedsTorch)
        {
            TorchNativeLoader.EnsureLoaded();
        }

        Console.WriteLine($"== {benchmark.Name}: {benchmark.Description}");
        benchmark.Run(args[1..]);
    }
}
catch (ArgumentException e) when (e.ParamName == BenchmarkArguments.ParameterName)
{
    // A bad option: its message names it and the value; a stack trace would bury that.
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
catch (PyTorchPython.UnavailableException e)
{
    // No PyTorch for the comparison: the message names the interpreter and how to choose another.
    Console.Error.WriteLine($"error: {e.Message}");
    return 3;
}

return 0;
