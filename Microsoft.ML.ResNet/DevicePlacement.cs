namespace Microsoft.ML.ResNet;

/// <summary>
/// Where a classifier runs (scoring or training), resolved by the one GPU rule (<c>HostSettings.Place</c>): no
/// "use the context's" nulls left.
/// </summary>
/// <param name="GpuDeviceId">CUDA device to run on, or null for the CPU.</param>
/// <param name="FallbackToCpu">When that device cannot be used: true runs on the CPU (scoring writes one warning), false throws.</param>
internal sealed record DevicePlacement(int? GpuDeviceId, bool FallbackToCpu);
