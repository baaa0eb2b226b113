using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Training;

/// <summary>ML.NET's GPU rule for training: a device id asks for CUDA; without CUDA, fall back to CPU only when allowed.</summary>
internal static class TrainingDevice
{
    /// <exception cref="InvalidOperationException">A GPU was asked for, CUDA is unavailable and fallback is off.</exception>
    public static Device Resolve(DevicePlacement placement)
    {
        TorchNativeLoader.EnsureLoaded();
        if (placement.GpuDeviceId is not { } id)
        {
            return CPU;
        }

        if (id < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(placement.GpuDeviceId), id, "A GPU device id is 0 or more.");
        }

        bool available;
        int count;
        try
        {
            available = cuda.is_available();
            count = available ? cuda.device_count() : 0;
        }
        catch (Exception e) when (e is DllNotFoundException or NotSupportedException or EntryPointNotFoundException)
        {
            available = false;
            count = 0;
        }

        if (available && id < count)
        {
            return new Device(DeviceType.CUDA, id);
        }

        if (placement.FallbackToCpu)
        {
            return CPU;
        }

        var reason = available
            ? $"only {count} CUDA device(s) are visible"
            : "TorchSharp's CUDA backend is not available (reference the TorchSharp-cuda-* package and install CUDA)";
        throw new InvalidOperationException(
            $"GPU device {id} was requested for training but {reason}. Set fallbackToCpu to train on the CPU instead.");
    }
}
