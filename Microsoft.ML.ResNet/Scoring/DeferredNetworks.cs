using System.Text;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>
/// Networks whose bytes a save on this thread leaves out of ML.NET's zip writer: the classifier hands ML.NET a stub graph
/// named after a marker (see <see cref="PortableModelWriter.Stub"/>), and <see cref="ModelZipCompaction"/> puts the real
/// graph in its place, stored uncompressed. ML.NET would otherwise deflate the weights (most of a save's time) only for
/// the entry to be inflated and stored again. Outside <see cref="Begin"/> (a plain <c>mlContext.Model.Save</c>) nothing
/// is deferred and the zip holds the real graph as ML.NET writes it.
/// </summary>
internal sealed class DeferredNetworks : IDisposable
{
    private const string MarkerPrefix = "resnetml_deferred_";

    [ThreadStatic]
    private static DeferredNetworks? t_current;

    private readonly DeferredNetworks? _outer;
    private readonly Dictionary<string, byte[]> _networks = new(StringComparer.Ordinal);

    private DeferredNetworks(DeferredNetworks? outer) => _outer = outer;

    /// <summary>The saves that defer on this thread, or null (a plain save: nothing deferred).</summary>
    public static DeferredNetworks? Current => t_current;

    /// <summary>Starts deferring on this thread until the result is disposed.</summary>
    public static DeferredNetworks Begin() => t_current = new DeferredNetworks(t_current);

    /// <summary>Keeps <paramref name="network"/> and returns the marker its stub carries as its graph name.</summary>
    public string Add(byte[] network)
    {
        var marker = MarkerPrefix + Guid.NewGuid().ToString("N");
        _networks.Add(marker, network);
        return marker;
    }

    /// <summary>The network whose stub <paramref name="entry"/> is, taken out of the pending ones; null when it is none.</summary>
    public byte[]? Take(ReadOnlySpan<byte> entry)
    {
        foreach (var (marker, network) in _networks)
        {
            if (entry.IndexOf(Encoding.ASCII.GetBytes(marker)) >= 0)
            {
                _networks.Remove(marker);
                return network;
            }
        }

        return null;
    }

    /// <summary>Throws when a stub did not reach the zip's rewrite: the zip would hold a network without weights.</summary>
    public void ThrowIfAnyPending()
    {
        if (_networks.Count > 0)
        {
            throw new InvalidOperationException(
                $"{_networks.Count} network(s) saved as a placeholder were not found in the zip ML.NET wrote; nothing was written. Save with mlContext.Model.Save instead.");
        }
    }

    public void Dispose() => t_current = _outer;
}
