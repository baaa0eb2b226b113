using System.Reflection;
using Microsoft.ML.ResNet.Scoring;
using Microsoft.ML.Runtime;
using Microsoft.ML.Transforms.Onnx;

namespace Microsoft.ML.ResNet.Catalog;

/// <summary>
/// The parts of the user's MLContext the library uses: its log, its random source (so <c>new MLContext(seed)</c>
/// makes training repeatable) and its GPU defaults (<c>GpuDeviceId</c>, <c>FallbackToCpu</c>), with ML.NET's rule
/// for combining them with a verb's own GPU options (<see cref="Place"/>).
/// </summary>
/// <remarks>
/// A catalog extension only receives the catalog, whose environment ML.NET keeps internal; it is found by
/// reflection here, in one place (<see cref="FindEnvironment(object)"/>). When an ML.NET upgrade moves it, the verbs throw
/// an <see cref="InvalidOperationException"/> saying so, rather than silently training with seed 0 on the CPU.
/// </remarks>
internal sealed class HostSettings
{
    // The log's source names: what trains and what scores.
    private const string TrainerChannel = "ResNetTrainer";
    private const string ScorerChannel = "ResNetClassify";

    // How deep the walk from a catalog to its environment goes: a trainers catalog holds its owner (a
    // TrainCatalogBase), which holds the environment.
    private const int MaxDepth = 2;

    private readonly IHostEnvironment _environment;

    private HostSettings(IHostEnvironment environment, int? gpuDeviceId, bool fallbackToCpu)
    {
        _environment = environment;
        GpuDeviceId = gpuDeviceId;
        FallbackToCpu = fallbackToCpu;
    }

    /// <summary>The context's <c>GpuDeviceId</c>: null means the CPU.</summary>
    public int? GpuDeviceId { get; }

    /// <summary>The context's <c>FallbackToCpu</c>.</summary>
    public bool FallbackToCpu { get; }

    public static HostSettings From(MLContext mlContext) =>
        new(mlContext, mlContext.GpuDeviceId, mlContext.FallbackToCpu);

    /// <exception cref="InvalidOperationException">This ML.NET keeps the catalog's MLContext where this library cannot find it.</exception>
    public static HostSettings From(TransformsCatalog catalog) => From(FindEnvironment(catalog));

    /// <exception cref="InvalidOperationException">This ML.NET keeps the catalog's MLContext where this library cannot find it.</exception>
    public static HostSettings From(MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog) => From(FindEnvironment(catalog));

    /// <summary>
    /// ML.NET's GPU rule (its <c>ApplyOnnxModel</c>'s), for every verb that runs a network: a null device means the
    /// context's device and the context's fallback; with a device, a null fallback means the context's.
    /// </summary>
    public DevicePlacement Place(int? gpuDeviceId, bool? fallbackToCpu) =>
        gpuDeviceId is null ? new(GpuDeviceId, FallbackToCpu) : new(gpuDeviceId, fallbackToCpu ?? FallbackToCpu);

    /// <summary>The scoring session's placement for a verb's GPU options (<see cref="Place"/>) and thread count.</summary>
    public ScoringSessionOptions Resolve(int? gpuDeviceId, bool? fallbackToCpu, int? intraOpNumThreads)
    {
        var placement = Place(gpuDeviceId, fallbackToCpu);
        var onnx = _environment.GetOnnxSessionOption();
        return new(placement.GpuDeviceId, placement.FallbackToCpu, intraOpNumThreads)
        {
            GlobalThreadPools = onnx is { PerSessionThreads: false } ? (onnx.GlobalInterOpNumThreads, onnx.GlobalIntraOpNumThreads) : null,
        };
    }

    /// <summary>A seed from the context's random source; each call (each Fit) draws the next one.</summary>
    public int NextSeed() => _environment.Register(TrainerChannel).Rand.Next();

    /// <summary>Writes an informational line to the context's <c>Log</c> event.</summary>
    public void Info(string message)
    {
        using var channel = _environment.Start(TrainerChannel);
        channel.Info(MessageSensitivity.None, message);
    }

    /// <summary>Writes a warning to the context's <c>Log</c> event.</summary>
    public void Warn(string message)
    {
        using var channel = _environment.Start(ScorerChannel);
        channel.Warning(MessageSensitivity.None, message);
    }

    /// <summary>The MLContext (or other environment) behind a catalog, found through its fields.</summary>
    /// <exception cref="InvalidOperationException">None within reach: ML.NET changed where catalogs keep it.</exception>
    internal static IHostEnvironment FindEnvironment(object catalog) =>
        FindEnvironment(catalog, depth: 0)
        ?? throw new InvalidOperationException(
            $"Cannot find the MLContext behind {catalog.GetType().FullName}: this version of Microsoft.ML "
            + $"({typeof(MLContext).Assembly.GetName().Version}) keeps it where Microsoft.ML.ResNet "
            + $"({typeof(HostSettings).Assembly.GetName().Version}) does not look. Without it the context's seed, GPU settings "
            + "and log would be ignored; use the Microsoft.ML version this package was built against (5.x), or a newer Microsoft.ML.ResNet.");

    private static IHostEnvironment? FindEnvironment(object? instance, int depth)
    {
        if (instance is IHostEnvironment environment)
        {
            return environment;
        }

        if (instance is null || depth >= MaxDepth)
        {
            return null;
        }

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

    private static HostSettings From(IHostEnvironment environment) =>
        environment is MLContext context
            ? From(context)
            : new HostSettings(environment, ReadProperty<int?>(environment, nameof(MLContext.GpuDeviceId)), ReadProperty<bool>(environment, nameof(MLContext.FallbackToCpu)));

    // The catalogs hold MLContext's inner environment, which carries the context's GPU settings on an internal interface.
    private static T ReadProperty<T>(IHostEnvironment environment, string name)
    {
        for (var type = environment.GetType(); type is not null; type = type.BaseType)
        {
            if (type.GetProperty(name, BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public) is { } property
                && property.PropertyType == typeof(T))
            {
                return (T)property.GetValue(environment)!;
            }
        }

        foreach (var contract in environment.GetType().GetInterfaces())
        {
            if (contract.GetProperty(name) is { } property && property.PropertyType == typeof(T))
            {
                return (T)property.GetValue(environment)!;
            }
        }

        throw new InvalidOperationException(
            $"Cannot read {name} from the MLContext's environment ({environment.GetType().FullName}): this version of Microsoft.ML "
            + $"({typeof(MLContext).Assembly.GetName().Version}) no longer has it where Microsoft.ML.ResNet looks, so the context's GPU "
            + "settings cannot be honoured. Use the Microsoft.ML version this package was built against (5.x), or a newer Microsoft.ML.ResNet.");
    }
}
