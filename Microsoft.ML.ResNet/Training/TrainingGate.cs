namespace Microsoft.ML.ResNet.Training;

/// <summary>
/// Lets one training run at a time into the code that uses libtorch's process-wide state: the global random
/// generator (<c>manual_seed</c>, drawn from by weight initialization) and the intra-op thread count.
/// </summary>
/// <remarks>
/// Two runs interleaving their draws from the one generator would each get other weights than alone, and one
/// run's thread count would apply to the other's steps: neither would be reproducible. Serializing costs no
/// speed on a CPU (one run already keeps every core busy) and makes every run equal to the same run alone.
/// </remarks>
internal static class TrainingGate
{
    private static readonly SemaphoreSlim Gate = new(1, 1);

    [ThreadStatic]
    private static bool t_held;

    /// <summary>Waits for the gate; dispose the result to leave it.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellation"/> fired while waiting.</exception>
    /// <exception cref="InvalidOperationException">This thread already holds the gate (a Fit started from another Fit's progress callback).</exception>
    public static IDisposable Enter(CancellationToken cancellation)
    {
        if (t_held)
        {
            throw new InvalidOperationException(
                "A ResNet training run was started from inside another one on the same thread (e.g. from its Progress callback). Runs in one process train one at a time: start the second after the first Fit returns.");
        }

        Gate.Wait(cancellation);
        t_held = true;
        return new Lease();
    }

    private sealed class Lease : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                t_held = false;
                Gate.Release();
            }
        }
    }
}
