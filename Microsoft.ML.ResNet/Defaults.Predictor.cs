namespace Microsoft.ML.ResNet;

internal static partial class Defaults
{
    /// <summary>Every default of <see cref="ResNetPredictorOptions"/>, in one place.</summary>
    internal static class Predictor
    {
        public const int MaxBatchSize = Defaults.BatchSize;
        public const int QueueCapacity = 256;
        public const int TopK = 5;
        public static readonly TimeSpan MaxWait = TimeSpan.FromMilliseconds(2);

        /// <summary>A wait beyond a second is a misunderstanding of the option, not a latency budget.</summary>
        public static readonly TimeSpan LongestWait = TimeSpan.FromSeconds(1);
    }
}
