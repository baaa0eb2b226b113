namespace Microsoft.ML.ResNet.Tests.Support;

/// <summary>
/// Runs an action that must fail and reports what it cost: managed bytes allocated on this thread, and the
/// growth of the process's peak resident memory (Linux VmHWM, reset first through /proc/self/clear_refs),
/// which also sees native allocations such as a libtorch tensor.
/// </summary>
internal static class MemoryProbe
{
    /// <summary>The hostile-input bar: a small file may cost at most this much extra memory.</summary>
    public const long Budget = 200L * 1024 * 1024;

    public static TException ThrowsWithinBudget<TException>(Action action)
        where TException : Exception
    {
        var peakBefore = ResetPeak();
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.ThrowsExactly<TException>(action);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        var peakGrowth = ReadPeak() is { } peak && peakBefore is { } before ? peak - before : 0;

        Assert.IsLessThan(Budget, allocated, $"managed bytes allocated while failing: {allocated:N0}");
        Assert.IsLessThan(Budget, peakGrowth, $"peak resident memory grew by {peakGrowth:N0} bytes while failing");
        return error;
    }

    private static long? ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        return ReadPeak();
    }

    private static long? ReadPeak()
    {
        if (!File.Exists("/proc/self/status"))
        {
            return null;
        }

        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line is null ? null : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }
}
