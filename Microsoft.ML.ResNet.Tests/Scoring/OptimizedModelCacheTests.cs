using Google.Protobuf;
using Microsoft.ML.ResNet.Scoring;
using Onnx;
using static Microsoft.ML.ResNet.Tests.Support.FixtureModels;

namespace Microsoft.ML.ResNet.Tests.Scoring;

/// <summary>
/// ONNX Runtime's optimized graph kept between sessions: the second session comes from it with the same answers, a
/// damaged entry is never used, and the cache keeps to its size.
/// </summary>
[TestClass]
public sealed class OptimizedModelCacheTests : TempFolderTest
{
    private static readonly ScoringSessionOptions Cached = new(null, false, 1) { CacheOptimizedGraph = true };
    private readonly List<string> _entries = [];

    [TestMethod]
    public void CreateSession_SecondTime_ComesFromTheKeptGraphWithTheSameAnswers()
    {
        var onnx = NetworkOfItsOwn();
        var entry = FreshEntry(onnx);

        var first = Probabilities(onnx, out var firstFromCache);
        Assert.IsFalse(firstFromCache, "nothing was kept yet");
        Assert.IsTrue(File.Exists(entry), $"the first session keeps its graph at {entry}");
        var second = Probabilities(onnx, out var secondFromCache);

        Assert.IsTrue(secondFromCache, "the second session comes from the kept graph");
        Assert.AreEqual(SmallLabels.Length, second.Length);
        for (var i = 0; i < first.Length; i++)
        {
            Assert.AreEqual(first[i], second[i], 1e-6, $"class {i}");
        }
    }

    [TestMethod]
    public void CreateSession_WhileASessionOfTheNetworkLives_SharesItsGraphUntilTheLastOneGoes()
    {
        var onnx = NetworkOfItsOwn();
        var entry = FreshEntry(onnx);
        var expected = Probabilities(onnx, out _);

        using (var first = new OnnxScoringSession(onnx, Cached, _ => { }))
        {
            Assert.IsTrue(first.FromCachedGraph);
            File.Delete(entry);
            var shared = Probabilities(onnx, out var fromShared);

            Assert.IsTrue(fromShared, "a live session's graph serves the next session of the network, with no entry on disk");
            CollectionAssert.AreEqual(expected, shared);
        }

        Probabilities(onnx, out var afterLast);
        Assert.IsFalse(afterLast, "with no session left, the next one reads the entry, and there is none");
    }

    [TestMethod]
    public void CreateSession_EntryWithAFlippedByte_IsNotUsedAndIsWrittenAnew()
    {
        var onnx = NetworkOfItsOwn();
        var entry = FreshEntry(onnx);
        var expected = Probabilities(onnx, out _);
        var bytes = File.ReadAllBytes(entry);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(entry, bytes);

        var answer = Probabilities(onnx, out var fromDamaged);

        Assert.IsFalse(fromDamaged, "a damaged entry fails its digest and is not used");
        CollectionAssert.AreEqual(expected, answer);
        Probabilities(onnx, out var fromRewritten);
        Assert.IsTrue(fromRewritten, "the session made from the ONNX wrote a sound entry");
    }

    [TestMethod]
    public void CreateSession_TruncatedEntry_IsNotUsed()
    {
        var onnx = NetworkOfItsOwn();
        var entry = FreshEntry(onnx);
        var expected = Probabilities(onnx, out _);
        using (var file = new FileStream(entry, FileMode.Open))
        {
            file.SetLength(file.Length / 3);
        }

        var answer = Probabilities(onnx, out var fromTruncated);

        Assert.IsFalse(fromTruncated);
        CollectionAssert.AreEqual(expected, answer);
    }

    [TestMethod]
    public void CreateSession_DiskTooFullForTheGraph_StillMakesTheSessionAndLeavesNoPartialEntry()
    {
        var onnx = NetworkOfItsOwn();
        var expected = Probabilities(onnx, out _);
        using var disk = SmallDisk.Mount("8m");
        var previous = Environment.GetEnvironmentVariable("TMPDIR");
        Environment.SetEnvironmentVariable("TMPDIR", disk.Folder);
        try
        {
            var folder = Path.GetDirectoryName(OptimizedModelCache.EntryPath(onnx))!;
            disk.Fill(leaveFreeBytes: 64 << 10);

            var first = Probabilities(onnx, out var firstFromCache);
            var second = Probabilities(onnx, out var secondFromCache);

            Assert.IsFalse(firstFromCache || secondFromCache, "a graph of 45 MB does not fit in 64 KB");
            CollectionAssert.AreEqual(expected, first);
            CollectionAssert.AreEqual(expected, second);
            Assert.IsEmpty(Directory.GetFiles(folder), "neither a partial nor a truncated entry is left");
        }
        finally
        {
            Environment.SetEnvironmentVariable("TMPDIR", previous);
        }
    }

    [TestMethod]
    public void EntryPath_AnotherNetwork_HasAnotherEntry()
    {
        var onnx = File.ReadAllBytes(SmallModel());
        var changed = (byte[])onnx.Clone();
        changed[^100] ^= 1;

        Assert.AreEqual(OptimizedModelCache.EntryPath(onnx), OptimizedModelCache.EntryPath((byte[])onnx.Clone()));
        Assert.AreNotEqual(OptimizedModelCache.EntryPath(onnx), OptimizedModelCache.EntryPath(changed));
        StringAssert.Contains(OptimizedModelCache.EntryPath(onnx), OptimizedModelCache.Subfolder);
    }

    [TestMethod]
    public void Trim_OverTheLimit_DeletesTheLeastRecentlyUsedAndAbandonedPartialsButKeepsTheNewEntry()
    {
        string Entry(string name, int bytes, TimeSpan age)
        {
            var path = Path.Combine(Folder, name);
            File.WriteAllBytes(path, new byte[bytes]);
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow - age);
            return path;
        }

        var oldest = Entry("a.ort", 400, TimeSpan.FromDays(3));
        var older = Entry("b.ort", 400, TimeSpan.FromDays(2));
        var recent = Entry("c.ort", 400, TimeSpan.FromMinutes(5));
        var justWritten = Entry("d.ort", 400, TimeSpan.Zero);
        var abandoned = Entry("e.partial", 10, TimeSpan.FromHours(2));
        var beingWritten = Entry("f.partial", 10, TimeSpan.Zero);

        OptimizedModelCache.Trim(Folder, justWritten, maxBytes: 1000);

        // Two 400-byte entries fit in 1,000 bytes: the one just written and the most recently used.
        CollectionAssert.AreEquivalent(new[] { justWritten, recent, beingWritten }, Directory.GetFiles(Folder));
        Assert.IsFalse(File.Exists(oldest) || File.Exists(older), "the least recently used entries go");
        Assert.IsFalse(File.Exists(abandoned), "a partial entry an hour old was left by a process that died");
    }

    [TestMethod]
    public void Trim_TheEntryJustWrittenAloneOverTheLimit_KeepsIt()
    {
        var only = Path.Combine(Folder, "a.ort");
        File.WriteAllBytes(only, new byte[2000]);

        OptimizedModelCache.Trim(Folder, only, maxBytes: 1000);

        Assert.IsTrue(File.Exists(only));
    }

    [TestMethod]
    public void Load_SavedModelTwice_SecondLoadComesFromTheKeptGraphWithTheSameAnswers()
    {
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(new[] { new PixelRow { Pixels = Enumerable.Range(0, 3 * SmallSize * SmallSize).Select(i => i % 17 / 17f).ToArray() } });
        using var fitted = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = nameof(PixelRow.Pixels), ModelPath = NetworkFileOfItsOwn() }).Fit(data);
        var zip = Path.Combine(Folder, "model.zip");
        ml.Model.SaveAtomically(fitted, data.Schema, zip);
        FreshEntry(SavedModelReader.Read(zip).Single().Onnx);

        using var first = (ResNetClassifierTransformer)ResNetClassifierTransformer.Load(ml, zip);
        using var second = (ResNetClassifierTransformer)ResNetClassifierTransformer.Load(ml, zip);

        Assert.IsFalse(first.Scorer.Session.FromCachedGraph);
        Assert.IsTrue(second.Scorer.Session.FromCachedGraph);
        var scores = ml.Data.CreateEnumerable<ScoreRow>(second.Transform(data), reuseRowObject: false).Single().Score;
        CollectionAssert.AreEqual(ml.Data.CreateEnumerable<ScoreRow>(fitted.Transform(data), reuseRowObject: false).Single().Score, scores);
    }

    [TestCleanup]
    public void DeleteEntries()
    {
        foreach (var entry in _entries)
        {
            File.Delete(entry);
        }
    }

    /// <summary>
    /// <see cref="SmallModel"/> under a doc string of its own: a network no other session of this process holds (sessions
    /// of one network share its kept graph) and no entry exists for.
    /// </summary>
    private static byte[] NetworkOfItsOwn()
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(SmallModel()));
        model.DocString = $"OptimizedModelCacheTests {Guid.NewGuid():N}";
        return model.ToByteArray();
    }

    private string NetworkFileOfItsOwn()
    {
        var path = Path.Combine(Folder, "own.onnx");
        File.WriteAllBytes(path, NetworkOfItsOwn());
        return path;
    }

    /// <summary>The entry for <paramref name="onnx"/>, deleted now and after the test.</summary>
    private string FreshEntry(byte[] onnx)
    {
        var entry = OptimizedModelCache.EntryPath(onnx) ?? throw new AssertFailedException("the private temp folder is not usable here");
        File.Delete(entry);
        _entries.Add(entry);
        return entry;
    }

    private static float[] Probabilities(byte[] onnx, out bool fromCache)
    {
        using var session = new OnnxScoringSession(onnx, Cached, _ => { });
        using var batch = new ScoringBatch(session, 1, withFeatures: false);
        for (var i = 0; i < batch.Pixels.Length; i++)
        {
            batch.Pixels[i] = i % 29 / 29f;
        }

        batch.Run(1);
        fromCache = session.FromCachedGraph;
        return batch.Probabilities.ToArray();
    }

    public sealed class PixelRow
    {
        [Microsoft.ML.Data.VectorType(3, SmallSize, SmallSize)]
        public float[] Pixels { get; set; } = [];
    }

    public sealed class ScoreRow
    {
        public float[] Score { get; set; } = [];
    }
}
