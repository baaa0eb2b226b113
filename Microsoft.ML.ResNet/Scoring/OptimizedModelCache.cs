using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.ResNet.IO;
using Microsoft.ML.ResNet.Native;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>
/// ONNX Runtime's optimized graph of a network, kept between processes, so that the next process that loads the same
/// saved model makes its CPU session without optimizing the network again (<see cref="ScoringSessionOptions.CacheOptimizedGraph"/>).
/// </summary>
/// <remarks>
/// Why: in a fresh process on an AMD EPYC family 26 VM (2026-12-05), the CPU session of a 224x224 ResNet-34 (87 MB)
/// took 1.06 s to make at ORT_ENABLE_ALL, most of it copying the weights from one new buffer into the next (BatchNorm
/// folded into the convolutions, the NCHWc layout, the session's own tensors), each new page costing a fault. Made
/// from ONNX Runtime's own format of the graph it had optimized before, reading the weights where they lie in our array
/// (<c>session.use_ort_model_bytes_for_initializers</c>), it took 0.09 s, with the same answers and speed.
/// <para>
/// That graph is laid out for one CPU (NCHWc blocks of its vector width) and one ONNX Runtime, so an entry's key is the
/// SHA-256 of the network's bytes, ONNX Runtime's version and the CPU's <see cref="CpuFeatures.Signature"/>. An entry is
/// <c>&lt;key&gt;.ort</c> in the private temp folder's <c>onnxruntime-cache</c> (<see cref="PrivateTempFolder"/>):
/// the graph, then its own SHA-256, checked on every read. It is written under another name in that folder and renamed
/// into place, so no reader sees half an entry; a damaged one is deleted and the session made from the ONNX. Beyond
/// <see cref="MaxBytes"/> the entries used least recently go. A failure of the cache itself (a full disk, a folder that
/// is not private) costs only the fast path: the session is then made from the ONNX as without the cache.
/// </para>
/// <para>
/// Within a process, a session made while another of the same network lives (a server's
/// <see cref="ResNetBatchPredictor"/> over the transformer <see cref="ResNetClassifierTransformer.Load"/>
/// returned) reads its weights from the graph that one holds instead of reading the file again, and a network's digest is
/// computed once per array: on the AMD EPYC family 26 VM, reading and checking the entry again took 0.08-0.26 s and
/// hashing the network 0.05 s, for a session made in 0.013 s. A graph read from a sound entry stays sound, whatever
/// happens to the file afterwards; once its last session is gone, the next session reads the file.
/// </para>
/// </remarks>
internal static class OptimizedModelCache
{
    /// <summary>The most the entries may take together (a 224x224 ResNet-34's entry is 87 MB).</summary>
    public const long MaxBytes = 2L << 30;

    /// <summary>The cache's folder under the private temp folder.</summary>
    public const string Subfolder = "onnxruntime-cache";

    private const string EntryExtension = ".ort";
    private const string PartialExtension = ".partial";
    private const int DigestBytes = 32;
    private static readonly TimeSpan AbandonedAfter = TimeSpan.FromHours(1);

    // Graphs that live sessions of this process read from, by entry. ONNX Runtime only reads them, so sessions share one.
    private static readonly Dictionary<string, SharedGraph> s_graphsInUse = new(StringComparer.Ordinal);

    // A network's digest by its array: a classifier's ONNX array is never written after it is made.
    private static readonly ConditionalWeakTable<byte[], string> s_networkDigests = [];

    /// <summary>
    /// A CPU session for <paramref name="onnx"/>: from the cached graph when there is a sound entry, otherwise made from
    /// the ONNX while ONNX Runtime writes the entry for next time.
    /// </summary>
    /// <param name="onnx">The network's ONNX bytes.</param>
    /// <param name="newOptions">Makes the CPU session's options (threads, spinning); called once per attempt.</param>
    /// <returns>The session, its options (dispose them after it), and the graph the session reads its weights from,
    /// to be released after the session is disposed (null when the session was made from the ONNX).</returns>
    public static (InferenceSession Session, SessionOptions Options, SharedGraph? Graph) CreateSession(byte[] onnx, Func<SessionOptions> newOptions)
    {
        var entry = EntryPath(onnx);
        if (entry is not null && (SharedGraph.Acquire(entry) ?? SharedGraph.Read(entry)) is { } graph)
        {
            var options = newOptions();
            try
            {
                options.AddSessionConfigEntry("session.load_model_format", "ORT");
                options.AddSessionConfigEntry("session.use_ort_model_bytes_directly", "1");
                options.AddSessionConfigEntry("session.use_ort_model_bytes_for_initializers", "1");
                var session = new InferenceSession(graph.Bytes, options);
                MarkUsed(entry);
                return (session, options, graph);
            }
            catch (OnnxRuntimeException)
            {
                // Sound bytes ONNX Runtime refuses: the ONNX below gives the same session and a new entry.
                options.Dispose();
                graph.Release();
                TryDelete(entry);
            }
            catch
            {
                options.Dispose();
                graph.Release();
                throw;
            }
        }

        return CreateAndStore(onnx, newOptions, entry);
    }

    /// <summary>Where the entry for <paramref name="onnx"/> on this CPU and ONNX Runtime lives, or null when the private
    /// temp folder cannot be used.</summary>
    public static string? EntryPath(byte[] onnx)
    {
        string folder;
        try
        {
            folder = PrivateTempFolder.GetSubfolder(Subfolder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        var digest = s_networkDigests.GetValue(onnx, network => Convert.ToHexString(SHA256.HashData(network)));
        var identity = $"{digest}|onnxruntime {OrtEnv.Instance().GetVersionString()}|{CpuFeatures.Signature}|ORT_ENABLE_ALL";
        return Path.Combine(folder, Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(identity))).ToLowerInvariant() + EntryExtension);
    }

    private static (InferenceSession, SessionOptions, SharedGraph?) CreateAndStore(byte[] onnx, Func<SessionOptions> newOptions, string? entry)
    {
        if (entry is not null && TryCreatePartial(Path.GetDirectoryName(entry)!) is { } partial)
        {
            var options = newOptions();
            try
            {
                options.OptimizedModelFilePath = partial;
                options.AddSessionConfigEntry("session.save_model_format", "ORT");

                // ONNX Runtime warns that a graph optimized at this level fits only this CPU; the entry's key says so.
                options.LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR;
                var session = new InferenceSession(onnx, options);
                Seal(partial, entry);
                return (session, options, null);
            }
            catch (OnnxRuntimeException)
            {
                // Writing the graph can fail where reading the network would not (a full disk): once more without it,
                // which fails only if the network itself does.
                options.Dispose();
                TryDelete(partial);
            }
            catch
            {
                options.Dispose();
                TryDelete(partial);
                throw;
            }
        }

        var plain = newOptions();
        try
        {
            return (new InferenceSession(onnx, plain), plain, null);
        }
        catch
        {
            plain.Dispose();
            throw;
        }
    }

    private static string? TryCreatePartial(string folder)
    {
        try
        {
            using var file = PrivateTempFolder.CreateExclusive(folder, PartialExtension, out var path);
            return path;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Appends the graph's digest to <paramref name="partial"/> and renames it to <paramref name="entry"/>;
    /// then trims the cache. Failures leave no partial file behind and are otherwise ignored.</summary>
    private static void Seal(string partial, string entry)
    {
        try
        {
            using (var file = new FileStream(partial, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
            {
                var digest = SHA256.HashData(file);
                file.Write(digest);
            }

            File.Move(partial, entry, overwrite: true);
            Trim(Path.GetDirectoryName(entry)!, entry, MaxBytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(partial);
        }
    }

    /// <summary>The graph of a sound entry, in an array ONNX Runtime may keep reading from; null when there is none or it
    /// is damaged (then it is deleted).</summary>
    private static byte[]? TryRead(string entry)
    {
        try
        {
            using var file = new FileStream(entry, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, bufferSize: 1);
            var length = file.Length - DigestBytes;
            if (length > 0 && length <= Array.MaxLength)
            {
                var graph = HugePageArray.Allocate((int)length);
                file.ReadExactly(graph);
                Span<byte> digest = stackalloc byte[DigestBytes];
                file.ReadExactly(digest);
                if (SHA256.HashData(graph).AsSpan().SequenceEqual(digest))
                {
                    return graph;
                }
            }
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        TryDelete(entry);
        return null;
    }

    /// <summary>Deletes the entries used least recently beyond <paramref name="maxBytes"/> (never <paramref name="keep"/>),
    /// and partial files a process left when it died while writing one.</summary>
    internal static void Trim(string folder, string keep, long maxBytes)
    {
        var directory = new DirectoryInfo(folder);
        long total = 0;
        foreach (var file in directory.GetFiles("*" + EntryExtension).OrderByDescending(f => f.LastWriteTimeUtc))
        {
            total += file.Length;
            if (total > maxBytes && file.FullName != keep)
            {
                TryDelete(file.FullName);
            }
        }

        foreach (var file in directory.GetFiles("*" + PartialExtension).Where(f => f.LastWriteTimeUtc < DateTime.UtcNow - AbandonedAfter))
        {
            TryDelete(file.FullName);
        }
    }

    private static void MarkUsed(string entry)
    {
        try
        {
            File.SetLastWriteTimeUtc(entry, DateTime.UtcNow);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Only the eviction order suffers.
        }
    }

    private static void TryDelete(string? path)
    {
        try
        {
            if (path is not null)
            {
                File.Delete(path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Another process may hold or have removed it; the next writer replaces it.
        }
    }

    /// <summary>
    /// A graph read from a sound entry, shared by the sessions of this process that read their weights from it: each
    /// holds one use, and gives it back after its session is disposed. While any use is held, the next session of the
    /// same network takes one more instead of reading the entry.
    /// </summary>
    internal sealed class SharedGraph
    {
        private readonly string _entry;
        private int _uses = 1;

        private SharedGraph(string entry, byte[] bytes) => (_entry, Bytes) = (entry, bytes);

        /// <summary>The graph, in an array ONNX Runtime keeps reading from while a session on it lives.</summary>
        public byte[] Bytes { get; }

        /// <summary>One more use of the graph a live session of <paramref name="entry"/> holds; null when none does.</summary>
        public static SharedGraph? Acquire(string entry)
        {
            lock (s_graphsInUse)
            {
                if (s_graphsInUse.TryGetValue(entry, out var graph))
                {
                    graph._uses++;
                    return graph;
                }

                return null;
            }
        }

        /// <summary>The graph of <paramref name="entry"/> when it is sound, now shared; null when there is none or it is
        /// damaged (then it is deleted).</summary>
        public static SharedGraph? Read(string entry)
        {
            if (TryRead(entry) is not { } bytes)
            {
                return null;
            }

            var graph = new SharedGraph(entry, bytes);
            lock (s_graphsInUse)
            {
                // Two threads that read the same entry at once: the first shares its graph; the other's stays its own.
                s_graphsInUse.TryAdd(entry, graph);
            }

            return graph;
        }

        /// <summary>Gives back one use; the last one stops the sharing (the array goes with the last session on it).</summary>
        public void Release()
        {
            lock (s_graphsInUse)
            {
                if (--_uses == 0 && s_graphsInUse.TryGetValue(_entry, out var shared) && shared == this)
                {
                    s_graphsInUse.Remove(_entry);
                }
            }
        }
    }
}
