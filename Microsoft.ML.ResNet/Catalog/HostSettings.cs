using System.Reflection;
using Microsoft.ML.ResNet.Scoring;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.ResNet.Catalog;

/// <summary>
/// The parts of the user's MLContext a classifier needs: its log (for the GPU fallback warning) and its
/// GPU defaults (<c>GpuDeviceId</c>, <c>FallbackToCpu</c>).
/// </summary>
/// <remarks>
/// A catalog extension only receives the <see cref="TransformsCatalog"/>, whose environment ML.NET keeps
/// internal; the same holds for the environment's GPU settings. Both are read by reflection here, in one
/// place; when that fails (a future ML.NET), warnings go nowhere and the GPU defaults are "CPU".
/// </remarks>
internal sealed class HostSettings
{
    private readonly IHostEnvironment? _environment;

    private HostSettings(IHostEnvironment? environment, int? gpuDeviceId, bool fallbackToCpu)
    {
        _environment = environment;
        GpuDeviceId = gpuDeviceId;
        FallbackToCpu = fallbackToCpu;
    }

    public int? GpuDeviceId { get; }

    public bool FallbackToCpu { get; }

    public static HostSettings From(MLContext mlContext) =>
        new(mlContext, mlContext.GpuDeviceId, mlContext.FallbackToCpu);

    public static HostSettings From(TransformsCatalog catalog)
    {
        var environment = FindField<IHostEnvironment>(catalog);
        if (environment is MLContext context)
        {
            return From(context);
        }

        return new HostSettings(
            environment,
            ReadProperty<int?>(environment, nameof(MLContext.GpuDeviceId)),
            ReadProperty<bool>(environment, nameof(MLContext.FallbackToCpu)));
    }

    /// <summary>Writes a warning to the MLContext's log (its <c>Log</c> event).</summary>
    public void Warn(string message)
    {
        if (_environment is null)
        {
            return;
        }

        using var channel = _environment.Start("ResNetClassify");
        channel.Warning(MessageSensitivity.None, message);
    }

    /// <summary>The session placement for the given per-call settings, ML.NET's way: a null device means
    /// "whatever the context says", fallback included.</summary>
    public ScoringSessionOptions Resolve(int? gpuDeviceId, bool? fallbackToCpu, int? intraOpNumThreads) =>
        new(gpuDeviceId ?? GpuDeviceId, fallbackToCpu ?? FallbackToCpu, intraOpNumThreads);

    private static T? FindField<T>(object instance)
        where T : class
    {
        for (var type = instance.GetType(); type is not null; type = type.BaseType)
        {
            var field = type.GetFields(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)
                .FirstOrDefault(f => typeof(T).IsAssignableFrom(f.FieldType));
            if (field?.GetValue(instance) is T value)
            {
                return value;
            }
        }

        return null;
    }

    private static T? ReadProperty<T>(object? instance, string name)
    {
        for (var type = instance?.GetType(); type is not null; type = type.BaseType)
        {
            var property = type.GetProperty(name, BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public);
            if (property?.GetValue(instance) is T value)
            {
                return value;
            }
        }

        return default;
    }
}
