using System.Reflection;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.ResNet.Catalog;

/// <summary>
/// What the trainer takes from the user's MLContext: its GPU defaults, a seed drawn from its random
/// source (so <c>new MLContext(seed)</c> makes training repeatable) and its log.
/// </summary>
/// <remarks>
/// ML.NET keeps a trainers catalog's environment internal; it is found by reflection in one place.
/// When that fails (a future ML.NET) the defaults are: CPU, a seed of 0, no log.
/// </remarks>
internal sealed class TrainerHost
{
    private const string ChannelName = "ResNetTrainer";
    private readonly IHostEnvironment? _environment;

    private TrainerHost(IHostEnvironment? environment)
    {
        _environment = environment;
        Scoring = HostSettings.From(environment);
    }

    /// <summary>The same environment as the scoring transformer sees it (its log and GPU defaults).</summary>
    public HostSettings Scoring { get; }

    public int? GpuDeviceId => Scoring.GpuDeviceId;

    public bool FallbackToCpu => Scoring.FallbackToCpu;

    public static TrainerHost From(MLContext context) => new(context);

    public static TrainerHost From(MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog) =>
        new(FindEnvironment(catalog, depth: 0));

    /// <summary>A seed from the context's random source; each call (each Fit) draws the next one.</summary>
    public int NextSeed()
    {
        if (_environment is null)
        {
            return 0;
        }

        var host = _environment.Register(ChannelName);
        return host.Rand.Next();
    }

    /// <summary>Writes an informational line to the context's <c>Log</c> event.</summary>
    public void Info(string message)
    {
        if (_environment is null)
        {
            return;
        }

        using var channel = _environment.Start(ChannelName);
        channel.Info(MessageSensitivity.None, message);
    }

    private static IHostEnvironment? FindEnvironment(object? instance, int depth)
    {
        if (instance is null || depth > 2)
        {
            return null;
        }

        if (instance is IHostEnvironment environment)
        {
            return environment;
        }

        // The trainers catalog holds its owner (a TrainCatalogBase) which holds the environment.
        for (var type = instance.GetType(); type is not null; type = type.BaseType)
        {
            foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.DeclaredOnly))
            {
                if (typeof(IHostEnvironment).IsAssignableFrom(field.FieldType) || typeof(TrainCatalogBase).IsAssignableFrom(field.FieldType))
                {
                    if (FindEnvironment(field.GetValue(instance), depth + 1) is { } found)
                    {
                        return found;
                    }
                }
            }
        }

        return null;
    }
}
