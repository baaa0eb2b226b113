using Microsoft.ML.Data;
using Microsoft.ML.ResNet.Tests.Scoring;

namespace Microsoft.ML.ResNet.Tests.Serving;

[TestClass]
public sealed class ResNetBatchPredictorTests
{
    private static readonly TimeSpan LongWait = TimeSpan.FromSeconds(1);

    [TestMethod]
    public async Task PredictAsync_CommittedPhotos_GiveTheTransformersNumbers()
    {
        var ml = new MLContext(1);
        var model = ResNetClassifierTransformer.Load(ml, ServingFixtures.ModelZip());
        var photos = ImagePipeline.PhotoPaths();
        var expected = ScoringFixtures.Scores(model.Transform(ImagePipeline.Paths(ml, photos)));
        await using var predictor = new ResNetBatchPredictor(ml, model, new ResNetPredictorOptions { TopK = 100 });

        var predictions = await Task.WhenAll(photos.Select(p => predictor.PredictAsync(File.ReadAllBytes(p))));

        for (var row = 0; row < photos.Length; row++)
        {
            Assert.HasCount(predictor.Labels.Count, predictions[row].Top, "TopK beyond the classes returns them all");
            foreach (var (label, score) in predictions[row].Top)
            {
                var index = predictor.Labels.ToList().IndexOf(label);
                Assert.AreEqual(expected[row][index], score, 1e-5f, $"{Path.GetFileName(photos[row])}, class {label}");
            }

            var best = expected[row].Max();
            Assert.AreEqual(best, predictions[row].Score, 1e-5f, "the first label is the most probable");
        }
    }

    [TestMethod]
    public async Task PredictAsync_StreamAndDecodedImage_AgreeWithBytes()
    {
        var ml = new MLContext(1);
        await using var predictor = new ResNetBatchPredictor(ml, ResNetClassifierTransformer.Load(ml, ServingFixtures.ModelZip()));
        var photo = ImagePipeline.PhotoPaths()[1];

        var fromBytes = await predictor.PredictAsync(File.ReadAllBytes(photo));
        await using var stream = File.OpenRead(photo);
        var fromStream = await predictor.PredictAsync(stream);
        using var image = MLImage.CreateFromFile(photo);
        var fromImage = await predictor.PredictAsync(image);

        CollectionAssert.AreEqual(fromBytes.Top.ToArray(), fromStream.Top.ToArray());
        CollectionAssert.AreEqual(fromBytes.Top.ToArray(), fromImage.Top.ToArray());
        Assert.AreEqual(224, image.Width, "the caller's image is left usable");
    }

    [TestMethod]
    public async Task PredictAsync_ImageAlreadyAtTheModelsSize_LeavesTheCallersImageUsable()
    {
        // ML.NET's ResizeImages hands an image that already has the target size through as its output, and its engine
        // disposes its last output when the next row comes: the caller's image must never be that output.
        var ml = new MLContext(1);
        await using var predictor = new ResNetBatchPredictor(ml, ResNetClassifierTransformer.Load(ml, ServingFixtures.ModelZip()));
        using var corner = TopLeftCorner(ImagePipeline.PhotoPaths()[1], ServingFixtures.Size);
        using var other = TopLeftCorner(ImagePipeline.PhotoPaths()[2], ServingFixtures.Size);

        var first = await predictor.PredictAsync(corner);
        await predictor.PredictAsync(other);
        var again = await predictor.PredictAsync(corner);

        Assert.AreEqual(ServingFixtures.Size * ServingFixtures.Size * 4, corner.Pixels.Length, "the caller's image still has its pixels");
        CollectionAssert.AreEqual(first.Top.ToArray(), again.Top.ToArray(), "the same image gives the same answer");
    }

    [TestMethod]
    public async Task PredictAsync_IncludeHeatMap_DrawsThePredictedClassOverTheImageAndKeepsTheScores()
    {
        var ml = new MLContext(1);
        var model = ResNetClassifierTransformer.Load(ml, ServingFixtures.ModelZip());
        await using var plain = new ResNetBatchPredictor(ml, model);
        await using var mapped = new ResNetBatchPredictor(ml, model, new ResNetPredictorOptions { IncludeHeatMap = true });
        var photo = ImagePipeline.PhotoPaths()[1];

        var without = await plain.PredictAsync(File.ReadAllBytes(photo));
        var with = await mapped.PredictAsync(File.ReadAllBytes(photo));
        using var source = MLImage.CreateFromFile(photo);
        var fromImage = await mapped.PredictAsync(source);

        Assert.IsNull(without.HeatMapPng, "no heat map unless asked for");
        Assert.IsNotNull(with.HeatMapPng);
        CollectionAssert.AreEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, with.HeatMapPng[..4]);
        using var drawn = MLImage.CreateFromStream(new MemoryStream(with.HeatMapPng));
        Assert.AreEqual((source.Width, source.Height), (drawn.Width, drawn.Height), "drawn at the image's own size");
        Assert.AreNotEqual(0, drawn.Pixels.ToArray().Zip(source.Pixels.ToArray()).Count(p => p.First != p.Second), "the map changes the image");
        CollectionAssert.AreEqual(without.Top.ToArray(), with.Top.ToArray(), "the heat-map graph scores as the plain one");
        CollectionAssert.AreEqual(with.HeatMapPng, fromImage.HeatMapPng, "bytes and MLImage give the same picture");
    }

    [TestMethod]
    public async Task PredictAsync_ConcurrentCalls_CoalesceIntoFewerRuns()
    {
        var ml = new MLContext(1);
        await using var predictor = new ResNetBatchPredictor(ml, ResNetClassifierTransformer.Load(ml, ServingFixtures.ModelZip()),
            new ResNetPredictorOptions { MaxBatchSize = 8, MaxWait = LongWait });
        var image = File.ReadAllBytes(ImagePipeline.PhotoPaths()[0]);

        var predictions = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(() => predictor.PredictAsync(image))));

        Assert.HasCount(16, predictions);
        Assert.AreEqual(2, predictor.Runs, "16 calls in batches of at most 8");
        Assert.IsTrue(predictions.All(p => p.PredictedLabel == predictions[0].PredictedLabel), "the same image everywhere");
    }

    [TestMethod]
    public async Task PredictAsync_QueueFull_ThrowsQueueFullException()
    {
        var ml = new MLContext(1);
        await using var predictor = new ResNetBatchPredictor(ml, ResNetClassifierTransformer.Load(ml, ServingFixtures.ModelZip()),
            new ResNetPredictorOptions { MaxBatchSize = 64, MaxWait = LongWait, QueueCapacity = 3 });
        var image = File.ReadAllBytes(ImagePipeline.PhotoPaths()[0]);

        // The first call's batch waits a second for company: the three calls fill the queue meanwhile.
        var queued = Enumerable.Range(0, 3).Select(_ => predictor.PredictAsync(image)).ToArray();
        var refused = Assert.ThrowsExactly<ResNetPredictorQueueFullException>(() => predictor.PredictAsync(image));

        Assert.AreEqual(3, refused.Capacity);
        StringAssert.Contains(refused.Message, "QueueCapacity = 3");
        Assert.HasCount(3, await Task.WhenAll(queued), "the queued calls are still answered");
    }

    [TestMethod]
    public async Task PredictAsync_CancelledWhileQueued_EndsCancelledAndIsNotScored()
    {
        var ml = new MLContext(1);
        await using var predictor = new ResNetBatchPredictor(ml, ResNetClassifierTransformer.Load(ml, ServingFixtures.ModelZip()),
            new ResNetPredictorOptions { MaxWait = LongWait });
        var image = File.ReadAllBytes(ImagePipeline.PhotoPaths()[0]);
        using var cancellation = new CancellationTokenSource();

        var cancelled = predictor.PredictAsync(image, cancellation.Token);
        var kept = predictor.PredictAsync(image);
        await cancellation.CancelAsync();

        await Assert.ThrowsAsync<OperationCanceledException>(() => cancelled);
        await kept;
        Assert.AreEqual(1, predictor.Runs, "one run, for the call that was not cancelled");
    }

    [TestMethod]
    public async Task Dispose_WithQueuedCalls_AnswersThemThenRefusesNewOnes()
    {
        var ml = new MLContext(1);
        var predictor = new ResNetBatchPredictor(ml, ResNetClassifierTransformer.Load(ml, ServingFixtures.ModelZip()),
            new ResNetPredictorOptions { MaxWait = LongWait });
        var image = File.ReadAllBytes(ImagePipeline.PhotoPaths()[0]);
        var queued = Enumerable.Range(0, 3).Select(_ => predictor.PredictAsync(image)).ToArray();

        await predictor.DisposeAsync();

        // Scored before dispose returned; the public result is built on a pool thread just after.
        var answered = await Task.WhenAll(queued).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.IsTrue(answered.All(p => ServingFixtures.Labels.Contains(p.PredictedLabel)), "queued calls are answered, not cancelled");
        Assert.AreEqual(1, predictor.Runs, "in one run");
        Assert.ThrowsExactly<ObjectDisposedException>(() => predictor.PredictAsync(image));
    }

    [TestMethod]
    public async Task Dispose_ClassifierDisposedFirst_PredictorStillScores()
    {
        var ml = new MLContext(1);
        var model = ResNetClassifierTransformer.Load(ml, ServingFixtures.ModelZip());
        await using var predictor = new ResNetBatchPredictor(ml, model);
        ((IDisposable)model).Dispose();

        var prediction = await predictor.PredictAsync(File.ReadAllBytes(ImagePipeline.PhotoPaths()[0]));

        CollectionAssert.Contains(ServingFixtures.Labels, prediction.PredictedLabel);
    }

    [TestMethod]
    public async Task PredictAsync_NotAnImage_ThrowsArgumentExceptionSayingWhat()
    {
        var ml = new MLContext(1);
        await using var predictor = new ResNetBatchPredictor(ml, ResNetClassifierTransformer.Load(ml, ServingFixtures.ModelZip()));

        var text = Assert.ThrowsExactly<ArgumentException>(() => predictor.PredictAsync("<html>not an image</html>"u8.ToArray()));
        var empty = Assert.ThrowsExactly<ArgumentException>(() => predictor.PredictAsync(Array.Empty<byte>()));

        Assert.AreEqual("image", text.ParamName);
        StringAssert.Contains(text.Message, "25 bytes given are not an image");
        StringAssert.Contains(text.Message, "starts 3C 68 74 6D");
        Assert.AreEqual("image", empty.ParamName);
        StringAssert.Contains(empty.Message, "empty (0 bytes)");
        Assert.AreEqual(0, predictor.Runs);
    }

    [TestMethod]
    public void Constructor_ModelWithoutClassifier_ThrowsArgumentException()
    {
        var ml = new MLContext(1);
        var other = ml.Transforms.CopyColumns("B", "A").Fit(ml.Data.LoadFromEnumerable(new[] { new { A = 1f } }));

        var error = Assert.ThrowsExactly<ArgumentException>(() => new ResNetBatchPredictor(ml, other));

        Assert.AreEqual("model", error.ParamName);
        StringAssert.Contains(error.Message, "it holds 0");
    }

    [TestMethod]
    public void Constructor_BadOption_NamesIt()
    {
        var ml = new MLContext(1);
        using var model = (IDisposable)ResNetClassifierTransformer.Load(ml, ServingFixtures.ModelZip());

        var batch = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ResNetBatchPredictor(ml, (ITransformer)model, new ResNetPredictorOptions { MaxBatchSize = 0 }));
        var queue = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ResNetBatchPredictor(ml, (ITransformer)model, new ResNetPredictorOptions { QueueCapacity = 0 }));
        var wait = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ResNetBatchPredictor(ml, (ITransformer)model, new ResNetPredictorOptions { MaxWait = TimeSpan.FromMilliseconds(-1) }));

        Assert.AreEqual(nameof(ResNetPredictorOptions.MaxBatchSize), batch.ParamName);
        Assert.AreEqual(nameof(ResNetPredictorOptions.QueueCapacity), queue.ParamName);
        Assert.AreEqual(nameof(ResNetPredictorOptions.MaxWait), wait.ParamName);
    }

    /// <summary>The top-left <paramref name="size"/> x <paramref name="size"/> pixels of a committed photo, as a new image.</summary>
    private static MLImage TopLeftCorner(string photo, int size)
    {
        using var whole = MLImage.CreateFromFile(photo);
        var rowBytes = whole.Width * 4;
        var corner = new byte[size * size * 4];
        for (var row = 0; row < size; row++)
        {
            whole.Pixels.Slice(row * rowBytes, size * 4).CopyTo(corner.AsSpan(row * size * 4));
        }

        return MLImage.CreateFromPixels(size, size, whole.PixelFormat, corner);
    }
}
