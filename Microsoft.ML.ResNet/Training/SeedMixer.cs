namespace Microsoft.ML.ResNet.Training;

/// <summary>
/// Derives independent, reproducible seeds and uniform numbers from a run seed and indices (SplitMix64),
/// so shuffling, augmentation and the holdout split depend on nothing but the seed and the position.
/// </summary>
internal static class SeedMixer
{
    public static int Mix(int seed, long a, long b = 0) =>
        (int)(Next((ulong)seed ^ Next((ulong)a ^ Next((ulong)b))) & int.MaxValue);

    /// <summary>A uniform number in [0, 1) for (seed, index).</summary>
    public static double Unit(int seed, long index) =>
        (Next(Next((ulong)seed) ^ (ulong)index) >> 11) * (1.0 / (1UL << 53));

    private static ulong Next(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }
}
