using System.IO.Compression;
using System.Text;
using Microsoft.ML.Data;
using Microsoft.ML.ResNet.Tests.Scoring;
using Microsoft.ML.ResNet.Tests.Support;
using static Microsoft.ML.ResNet.Tests.Scoring.ScoringFixtures;
using static Microsoft.ML.ResNet.Tests.Support.FixtureModels;
using static Microsoft.ML.ResNet.Tests.Support.ImagePipeline;

namespace Microsoft.ML.ResNet.Tests.Catalog;

[TestClass]
public sealed class ResNetClassifierTransformerTests : TempFolderTest
{
    // PredictionEngine disposes the transformer it was made from unless told otherwise (ML.NET's default);
    // engines that share one transformer, as a pool's do, must not own it.
    private static readonly PredictionEngineOptions Shared = new() { OwnsTransformer = false };

    [TestMethod]
    public void Transform_ScoreAndPredictedLabel_CarryMlNetsMulticlassScoreAnnotations()
    {
        var ml = new MLContext(1);
        var pixels = PhotoPixels(ml, SmallSize);
        using var first = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel() }).Fit(pixels);
        var scored = first.Transform(pixels);
        using var second = ml.Transforms.ResNetClassify(new ResNetClassifierOptions
        {
            FeatureColumnName = "Pixels", ModelPath = SmallModel(), ScoreColumnName = "Score2", PredictedLabelColumnName = "PredictedLabel2",
        }).Fit(scored);
        var schema = second.Transform(scored).Schema;

        AssertScoreSet(schema["Score"], "Score", setId: 1);
        AssertScoreSet(schema["PredictedLabel"], "PredictedLabel", setId: 1);
        AssertScoreSet(schema["Score2"], "Score", setId: 2);
        AssertScoreSet(schema["PredictedLabel2"], "PredictedLabel", setId: 2);
        VBuffer<ReadOnlyMemory<char>> slotNames = default;
        schema["Score"].GetSlotNames(ref slotNames);
        CollectionAssert.AreEqual(SmallLabels, slotNames.DenseValues().Select(n => n.ToString()).ToArray());
    }

    [TestMethod]
    public void Evaluate_ScoredByTheClassifier_ReadsItAsAMulticlassPrediction()
    {
        var ml = new MLContext(1);
        var pixels = PhotoPixels(ml, SmallSize);
        using var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel() }).Fit(pixels);

        // The predictions as labels: Evaluate must then find a perfect score through the columns' names and types.
        var scored = ml.Transforms.CopyColumns("Label", "PredictedLabel").Fit(transformer.Transform(pixels)).Transform(transformer.Transform(pixels));
        var metrics = ml.MulticlassClassification.Evaluate(scored);

        Assert.AreEqual(1.0, metrics.MicroAccuracy, 1e-9);
        Assert.AreEqual(SmallLabels.Length, metrics.PerClassLogLoss.Count);
    }

    private static void AssertScoreSet(DataViewSchema.Column column, string valueKind, uint setId)
    {
        ReadOnlyMemory<char> text = default;
        column.Annotations.GetValue("ScoreColumnKind", ref text);
        Assert.AreEqual("MulticlassClassification", text.ToString(), column.Name);
        column.Annotations.GetValue("ScoreValueKind", ref text);
        Assert.AreEqual(valueKind, text.ToString(), column.Name);
        Assert.AreEqual(new KeyDataViewType(typeof(uint), int.MaxValue), column.Annotations.Schema["ScoreColumnSetId"].Type, column.Name);
        uint id = 0;
        column.Annotations.GetValue("ScoreColumnSetId", ref id);
        Assert.AreEqual(setId, id, column.Name);
    }

    [TestMethod]
    public void Transform_BatchSizes_AgreeWithEachOtherOnRowsNotAMultipleOfTheBatch()
    {
        var ml = new MLContext(1);
        var pixels = PhotoPixels(ml, SmallSize, times: 2); // 10 rows
        var model = SmallModel();

        float[][] ScoresAt(int batch)
        {
            using var t = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = model, BatchSize = batch }).Fit(pixels);
            return Scores(t.Transform(pixels));
        }

        var one = ScoresAt(1);
        Assert.AreEqual(10, one.Length);
        Assert.IsTrue(MaxDifference(one, ScoresAt(3)) <= 1e-5f, "batch 3 vs batch 1");
        Assert.IsTrue(MaxDifference(one, ScoresAt(32)) <= 1e-5f, "batch 32 vs batch 1");
        foreach (var row in one)
        {
            Assert.AreEqual(1.0, row.Sum(), 1e-4, "probabilities sum to 1");
        }
    }

    [TestMethod]
    public void Transform_PassThroughColumns_StayAlignedWithTheirRows()
    {
        var ml = new MLContext(1);
        var photos = Photos(ml, times: 2);
        var pipeline = PixelPipeline(ml, SmallSize)
            .Append(ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel(), BatchSize = 4 }));
        using var model = (IDisposable)pipeline.Fit(photos);

        var scored = ((ITransformer)model).Transform(photos);
        var paths = scored.GetColumn<string>("ImagePath").ToArray();
        var pixels = scored.GetColumn<float[]>("Pixels").ToArray();

        CollectionAssert.AreEqual(PhotoPaths().Concat(PhotoPaths()).ToArray(), paths);
        for (var i = 0; i < 5; i++)
        {
            CollectionAssert.AreEqual(pixels[i], pixels[i + 5], $"row {i} and {i + 5} are the same photo");
        }
    }

    [TestMethod]
    public void Transform_OutputSchema_HasLabelSlotNamesAndKeyValues()
    {
        var ml = new MLContext(1);
        var pixels = PhotoPixels(ml, SmallSize);
        using var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel(), EmbeddingColumnName = "Embedding" }).Fit(pixels);

        var schema = transformer.Transform(pixels).Schema;

        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, 5), schema["Score"].Type);
        VBuffer<ReadOnlyMemory<char>> names = default;
        schema["Score"].GetSlotNames(ref names);
        CollectionAssert.AreEqual(SmallLabels, names.DenseValues().Select(n => n.ToString()).ToArray());
        Assert.AreEqual(new KeyDataViewType(typeof(uint), 5), schema["PredictedLabel"].Type);
        VBuffer<ReadOnlyMemory<char>> keys = default;
        schema["PredictedLabel"].GetKeyValues(ref keys);
        CollectionAssert.AreEqual(SmallLabels, keys.DenseValues().Select(n => n.ToString()).ToArray());
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, 512), schema["Embedding"].Type);
    }

    [TestMethod]
    public void Transform_PredictedLabel_IsTheArgMaxAndMapsBackToLabels()
    {
        var ml = new MLContext(1);
        var pixels = PhotoPixels(ml, SmallSize);
        using var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel() }).Fit(pixels);
        var scored = transformer.Transform(pixels);
        var named = ml.Transforms.Conversion.MapKeyToValue("LabelName", "PredictedLabel").Fit(scored).Transform(scored);

        var scores = Scores(named);
        var names = named.GetColumn<string>("LabelName").ToArray();
        for (var i = 0; i < scores.Length; i++)
        {
            var argmax = Array.IndexOf(scores[i], scores[i].Max());
            Assert.AreEqual(SmallLabels[argmax], names[i], $"row {i}");
        }
    }

    [TestMethod]
    public void Evaluate_DirectlyOnTransformOutput_Works()
    {
        var ml = new MLContext(1);
        var photos = Photos(ml);
        var labelKeys = ml.Data.LoadFromEnumerable(SmallLabels.Select(l => new LabelRow { Value = l }));
        var withTruth = ml.Transforms.CustomMapping<ImagePipeline.ImageRow, TruthRow>((_, o) => o.Truth = "dog", contractName: null)
            .Append(ml.Transforms.Conversion.MapValueToKey("Label", "Truth", keyData: labelKeys))
            .Append(PixelPipeline(ml, SmallSize))
            .Append(ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel() }));
        var model = withTruth.Fit(photos);
        var scored = model.Transform(photos);

        var metrics = ml.MulticlassClassification.Evaluate(scored);

        var predicted = Keys(scored);
        Assert.AreEqual(predicted.Count(p => p == 2) / 5.0, metrics.MicroAccuracy, 1e-9);
        (model.LastTransformer as IDisposable)?.Dispose();
    }

    [TestMethod]
    public void PredictionEngine_SingleRows_MatchesTheBatchedTransform()
    {
        var ml = new MLContext(1);
        var pixels = PhotoPixels(ml, SmallSize);
        using var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel(), BatchSize = 4 }).Fit(pixels);
        var batched = Scores(transformer.Transform(pixels));
        var rows = ml.Data.CreateEnumerable<ScoringFixtures.PixelRow>(pixels, reuseRowObject: false).ToArray();

        using var engine = ml.Model.CreatePredictionEngine<ScoringFixtures.PixelRow, ScoringFixtures.Prediction>(transformer, Shared);
        var single = rows.Select(r => engine.Predict(r)).ToArray();

        Assert.IsTrue(MaxDifference(batched, single.Select(p => p.Score).ToArray()) <= 1e-5f);
        CollectionAssert.AreEqual(Keys(transformer.Transform(pixels)), single.Select(p => p.PredictedLabel).ToArray());
    }

    [TestMethod]
    public void PredictionEngine_ManyThreads_GiveTheSequentialAnswers()
    {
        var ml = new MLContext(1);
        var pixels = PhotoPixels(ml, SmallSize);
        using var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel(), IntraOpNumThreads = 1 }).Fit(pixels);
        var rows = ml.Data.CreateEnumerable<ScoringFixtures.PixelRow>(pixels, reuseRowObject: false).ToArray();
        float[][] sequential;
        using (var engine = ml.Model.CreatePredictionEngine<ScoringFixtures.PixelRow, ScoringFixtures.Prediction>(transformer, Shared))
        {
            sequential = rows.Select(r => engine.Predict(r).Score).ToArray();
        }

        const int Threads = 8;
        const int Rounds = 6;
        var results = new float[Threads][][];
        var start = new Barrier(Threads);
        var workers = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            using var engine = ml.Model.CreatePredictionEngine<ScoringFixtures.PixelRow, ScoringFixtures.Prediction>(transformer, Shared);
            start.SignalAndWait();
            var mine = new List<float[]>();
            for (var round = 0; round < Rounds; round++)
            {
                // Each thread walks the rows in its own order so that runs interleave differently.
                for (var i = 0; i < rows.Length; i++)
                {
                    var row = (i + t + round) % rows.Length;
                    mine.Add([row, .. engine.Predict(rows[row]).Score]);
                }
            }

            results[t] = mine.ToArray();
        })).ToArray();
        foreach (var worker in workers)
        {
            worker.Start();
        }

        foreach (var worker in workers)
        {
            worker.Join();
        }

        for (var t = 0; t < Threads; t++)
        {
            Assert.AreEqual(Rounds * rows.Length, results[t].Length, $"thread {t} finished");
            foreach (var result in results[t])
            {
                var row = (int)result[0];
                CollectionAssert.AreEqual(sequential[row], result[1..], $"thread {t}, row {row}");
            }
        }
    }

    [TestMethod]
    public void Transform_ConcurrentCursors_GiveTheSequentialAnswers()
    {
        var ml = new MLContext(1);
        var pixels = PhotoPixels(ml, SmallSize, times: 2);
        using var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel(), BatchSize = 3, IntraOpNumThreads = 1 }).Fit(pixels);
        var sequential = Scores(transformer.Transform(pixels));

        var parallel = Enumerable.Range(0, 6).AsParallel().WithDegreeOfParallelism(6)
            .Select(_ => Scores(transformer.Transform(pixels)))
            .ToArray();

        foreach (var run in parallel)
        {
            Assert.AreEqual(0f, MaxDifference(sequential, run));
        }
    }

    [TestMethod]
    public void Save_ThenStockLoad_GivesTheSameScoresAndLabelsWithOnlyMLNetTransformers()
    {
        var ml = new MLContext(1);
        var pixels = PhotoPixels(ml, SmallSize);
        using var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel(), EmbeddingColumnName = "Features" }).Fit(pixels);
        var path = Path.Combine(Folder, "model.zip");

        ml.Model.Save(transformer, pixels.Schema, path);
        var stock = ml.Model.Load(path, out var savedSchema);
        var ours = transformer.Transform(pixels);
        var theirs = stock.Transform(pixels);

        Assert.IsTrue(MaxDifference(Scores(ours), Scores(theirs)) <= 1e-5f, "Score");
        CollectionAssert.AreEqual(Keys(ours), Keys(theirs), "PredictedLabel");
        Assert.IsTrue(MaxDifference(Scores(ours, "Features"), Scores(theirs, "Features")) <= 1e-4f, "Features");
        Assert.AreEqual(new KeyDataViewType(typeof(uint), 5), theirs.Schema["PredictedLabel"].Type);
        VBuffer<ReadOnlyMemory<char>> keys = default;
        theirs.Schema["PredictedLabel"].GetKeyValues(ref keys);
        CollectionAssert.AreEqual(SmallLabels, keys.DenseValues().Select(k => k.ToString()).ToArray());
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, 5), theirs.Schema["Score"].Type);
        Assert.IsNotNull(savedSchema.GetColumnOrNull("Pixels"));

        var ourAssembly = typeof(ResNetClassifierTransformer).Assembly;
        foreach (var type in Flatten(stock).Select(t => t.GetType()))
        {
            Assert.AreNotEqual(ourAssembly, type.Assembly, $"{type} comes from our assembly");
            StringAssert.StartsWith(type.Assembly.GetName().Name, "Microsoft.ML", $"{type} is an ML.NET built-in");
        }

        using var zip = ZipFile.OpenRead(path);
        foreach (var entry in zip.Entries.Where(e => e.Name == "Model.key"))
        {
            using var reader = new StreamReader(entry.Open(), Encoding.Latin1);
            var text = reader.ReadToEnd();
            Assert.IsFalse(text.Contains("Microsoft.ML.ResNet", StringComparison.Ordinal), $"{entry.FullName} names our assembly");
        }

        (stock as IDisposable)?.Dispose();
    }

    [TestMethod]
    public void Save_ThenLoadInAProcessWithoutOurAssembly_GivesTheSameScoresAndLabels()
    {
        var root = RepositoryRoot();
        var project = Path.Combine(root, "samples", "StockModelLoader", "StockModelLoader.csproj");
        var ml = new MLContext(1);
        var pixels = PhotoPixels(ml, SmallSize);
        using var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel() }).Fit(pixels);
        var zip = Path.Combine(Folder, "model.zip");
        transformer.Save(zip, pixels.Schema);
        var input = Path.Combine(Folder, "pixels.bin");
        File.WriteAllBytes(input, Scores(pixels, "Pixels").SelectMany(r => r).SelectMany(BitConverter.GetBytes).ToArray());
        var output = Path.Combine(Folder, "scores.json");

        RunDotnet("run", "-c", "Release", "--project", project, "--", zip, input, "5", output);

        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(output));
        var result = json.RootElement;
        var theirScores = result.GetProperty("Score").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToArray();
        var theirKeys = result.GetProperty("PredictedLabel").EnumerateArray().Select(v => v.GetUInt32()).ToArray();
        var ours = transformer.Transform(pixels);
        Assert.IsTrue(MaxDifference(Scores(ours), theirScores) <= 1e-5f, "Score");
        CollectionAssert.AreEqual(Keys(ours), theirKeys, "PredictedLabel");
        Assert.AreEqual("Key<UInt32, 0-4>", result.GetProperty("PredictedLabelType").GetString());
        CollectionAssert.AreEqual(SmallLabels, result.GetProperty("KeyValues").EnumerateArray().Select(v => v.GetString()).ToArray());
        var assemblies = result.GetProperty("Assemblies").EnumerateArray().Select(v => v.GetString()!).ToArray();
        Assert.IsFalse(assemblies.Any(a => a.StartsWith("Microsoft.ML.ResNet", StringComparison.Ordinal)), string.Join(", ", assemblies));
        CollectionAssert.Contains(assemblies, "Microsoft.ML.OnnxTransformer");
    }

    /// <summary>The heat-map column is part of the stock chain: a process that has only ML.NET gets the chosen class's maps
    /// under the column's name, as a Vector&lt;Single, h, w&gt;.</summary>
    [TestMethod]
    public void Save_WithHeatMapClassThenLoadInAProcessWithoutOurAssembly_GivesTheSameMaps()
    {
        var project = Path.Combine(RepositoryRoot(), "samples", "StockModelLoader", "StockModelLoader.csproj");
        var ml = new MLContext(1);
        var pixels = PhotoPixels(ml, SmallSize);
        using var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions
        {
            FeatureColumnName = "Pixels", ModelPath = SmallModel(), HeatMapColumnName = "Evidence", HeatMapClass = "bird",
        }).Fit(pixels);
        var zip = Path.Combine(Folder, "model.zip");
        transformer.Save(zip, pixels.Schema);
        var input = Path.Combine(Folder, "pixels.bin");
        File.WriteAllBytes(input, Scores(pixels, "Pixels").SelectMany(r => r).SelectMany(BitConverter.GetBytes).ToArray());
        var output = Path.Combine(Folder, "scores.json");

        RunDotnet("run", "-c", "Release", "--project", project, "--", zip, input, "5", output, "Evidence");

        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(output));
        var result = json.RootElement;
        var theirMaps = result.GetProperty("HeatMap").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToArray();
        var ourMaps = Scores(transformer.Transform(pixels), "Evidence");
        var scale = ourMaps.SelectMany(m => m).Max(Math.Abs);
        Assert.IsGreaterThan(1e-3f, scale, "the maps are not all zero");
        Assert.IsLessThanOrEqualTo(1e-5f * scale, MaxDifference(ourMaps, theirMaps), $"maps of scale {scale:g3}");
        Assert.AreEqual("Vector<Single, 2, 2>", result.GetProperty("HeatMapType").GetString());
        var assemblies = result.GetProperty("Assemblies").EnumerateArray().Select(v => v.GetString()!).ToArray();
        Assert.IsFalse(assemblies.Any(a => a.StartsWith("Microsoft.ML.ResNet", StringComparison.Ordinal)), string.Join(", ", assemblies));
    }

    [TestMethod]
    public void Load_SavedClassifier_ReopensTheBatchedTransformerWithTheSameAnswers()
    {
        var ml = new MLContext(1);
        var pixels = PhotoPixels(ml, SmallSize);
        using var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel(), BatchSize = 2, ScoreColumnName = "Probabilities" }).Fit(pixels);
        var path = Path.Combine(Folder, "model.zip");
        transformer.Save(path, pixels.Schema);

        using var reloaded = (ResNetClassifierTransformer)ResNetClassifierTransformer.Load(ml, path);

        Assert.AreEqual(2, reloaded.BatchSize);
        Assert.AreEqual("Probabilities", reloaded.ScoreColumnName);
        CollectionAssert.AreEqual(SmallLabels, reloaded.Labels.ToArray());
        Assert.AreEqual(0f, MaxDifference(Scores(transformer.Transform(pixels), "Probabilities"), Scores(reloaded.Transform(pixels), "Probabilities")));
        Assert.AreEqual(1, Directory.GetFiles(Folder).Length, "the atomic save leaves no temp file");

        // Saved again from the reloaded transformer: the graph rewrite is idempotent.
        var again = Path.Combine(Folder, "again.zip");
        reloaded.Save(again, pixels.Schema);
        var stock = ml.Model.Load(again, out _);
        Assert.IsTrue(MaxDifference(Scores(transformer.Transform(pixels), "Probabilities"), Scores(stock.Transform(pixels), "Probabilities")) <= 1e-5f);
        (stock as IDisposable)?.Dispose();
    }

    [TestMethod]
    public void Load_WholePipelineZip_ReplacesOnlyTheClassifierStep()
    {
        var ml = new MLContext(1);
        var photos = Photos(ml);
        var pipeline = PixelPipeline(ml, SmallSize)
            .Append(ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel() }));
        var model = pipeline.Fit(photos);
        var path = Path.Combine(Folder, "pipeline.zip");
        ml.Model.Save(model, photos.Schema, path);

        var stock = ml.Model.Load(path, out _);
        var ours = ResNetClassifierTransformer.Load(ml, path);

        var chain = (TransformerChain<ITransformer>)ours;
        Assert.IsInstanceOfType<ResNetClassifierTransformer>(chain.LastTransformer);
        var expected = Scores(model.Transform(photos));
        Assert.IsTrue(MaxDifference(expected, Scores(stock.Transform(photos))) <= 1e-5f, "stock chain");
        Assert.AreEqual(0f, MaxDifference(expected, Scores(ours.Transform(photos))), "our reloaded chain");
        CollectionAssert.AreEqual(Keys(model.Transform(photos)), Keys(stock.Transform(photos)));
        (chain.LastTransformer as IDisposable)?.Dispose();
        (stock as IDisposable)?.Dispose();
        (model.LastTransformer as IDisposable)?.Dispose();
    }

    [TestMethod]
    public void Load_WholePipelineZipWithFeaturesAndOtherNames_ReopensEveryColumnUnchanged()
    {
        // Our loader gives ML.NET's loader a stub in place of the network: the stub must carry every output the
        // saved chain reads, under the saved names.
        var ml = new MLContext(1);
        var photos = Photos(ml);
        var options = new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel(), ScoreColumnName = "Probabilities", PredictedLabelColumnName = "Guess", EmbeddingColumnName = "Embedding" };
        var model = PixelPipeline(ml, SmallSize).Append(ml.Transforms.ResNetClassify(options)).Fit(photos);
        var path = Path.Combine(Folder, "pipeline.zip");
        ml.Model.Save(model, photos.Schema, path);

        var chain = (TransformerChain<ITransformer>)ResNetClassifierTransformer.Load(ml, path);
        var expected = model.Transform(photos);
        var actual = chain.Transform(photos);

        Assert.IsInstanceOfType<ResNetClassifierTransformer>(chain.LastTransformer);
        Assert.AreEqual(0f, MaxDifference(Scores(expected, "Probabilities"), Scores(actual, "Probabilities")), "Probabilities");
        Assert.AreEqual(0f, MaxDifference(Scores(expected, "Embedding"), Scores(actual, "Embedding")), "Embedding");
        CollectionAssert.AreEqual(Keys(expected, "Guess"), Keys(actual, "Guess"), "Guess");
        CollectionAssert.AreEqual(
            expected.Schema.Where(c => !c.IsHidden).Select(c => c.Name).ToArray(),
            actual.Schema.Where(c => !c.IsHidden).Select(c => c.Name).ToArray());
        (chain.LastTransformer as IDisposable)?.Dispose();
        (model.LastTransformer as IDisposable)?.Dispose();
    }

    [TestMethod]
    public void SaveAtomically_FailingSave_LeavesTheOldFileAndNoTempFile()
    {
        var ml = new MLContext(1);
        var pixels = PhotoPixels(ml, SmallSize);
        var path = Path.Combine(Folder, "model.zip");
        File.WriteAllText(path, "previous model");
        var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel() }).Fit(pixels);
        transformer.Dispose();

        Assert.ThrowsExactly<ObjectDisposedException>(() => ml.Model.SaveAtomically(transformer, pixels.Schema, path));

        Assert.AreEqual("previous model", File.ReadAllText(path));
        Assert.HasCount(1, Directory.GetFiles(Folder), "no temp file is left behind");
    }

    [TestMethod]
    public void Load_ZipWithoutAClassifier_ThrowsInvalidData()
    {
        var ml = new MLContext(1);
        var photos = Photos(ml);
        var path = Path.Combine(Folder, "plain.zip");
        ml.Model.Save(ml.Transforms.CopyColumns("Copy", "ImagePath").Fit(photos), photos.Schema, path);

        var error = Assert.ThrowsExactly<InvalidDataException>(() => ResNetClassifierTransformer.Load(ml, path));
        StringAssert.Contains(error.Message, "no ResNet classifier");
    }

    [TestMethod]
    public void Dispose_FirstOfTwoOwningEngines_SecondStillPredictsInAChildProcess()
    {
        var output = RunProbe("engines");

        StringAssert.Contains(output, "engines: second engine after the first was disposed: label");
        StringAssert.Contains(output, "same as before: True");
        StringAssert.Contains(output, "engines: new engine after the last owner was disposed: ObjectDisposedException");
    }

    [TestMethod]
    public void Dispose_WhileACursorIsOpen_CursorFinishesAndLaterUseThrowsInAChildProcess()
    {
        var output = RunProbe("cursor");

        StringAssert.Contains(output, "cursor: rows scored after the transformer was disposed: 40");
        StringAssert.Contains(output, "cursor: new cursor on a view made before dispose: ObjectDisposedException");
        StringAssert.Contains(output, "cursor: Transform after dispose: ObjectDisposedException");
    }

    [TestMethod]
    public void Dispose_RacingRunningBatchesAndPredictions_NoCrashInAChildProcess()
    {
        var output = RunProbe("race");

        StringAssert.Contains(output, "race: after the owner disposed the transformer mid-run: 30 predictions, 200 rows");
        StringAssert.Contains(output, "race: engine disposed during Predict on another thread: no crash");
    }

    /// <summary>
    /// A user who asked ML.NET for global ONNX Runtime thread pools (<c>PerSessionThreads = false</c>) before anything
    /// made ONNX Runtime's environment: our loader makes that environment as ML.NET would, so ML.NET's own session for
    /// the rest of the pipeline finds the pools (before, ONNX Runtime refused it: "the env must be created with the
    /// CreateEnvWithGlobalThreadPools API"). A fresh process, because the environment is made once per process.
    /// </summary>
    [TestMethod]
    public void Load_WholePipelineWithMlNetGlobalThreadPools_LoadsInAFreshProcess()
    {
        var output = RunProbe("global-threads", wholePipeline: true);

        StringAssert.Contains(output, "global-threads: loaded TransformerChain");
    }

    /// <summary>
    /// The same ask, a classifier zip: our session is the first in the process, and ML.NET's own OnnxTransformer, loaded
    /// after it, needs the global pools in the environment our session made.
    /// </summary>
    [TestMethod]
    public void Load_ClassifierWithMlNetGlobalThreadPools_LeavesAnEnvironmentMlNetsSessionsCanUse()
    {
        var output = RunProbe("global-threads");

        StringAssert.Contains(output, "global-threads: loaded ResNetClassifierTransformer");
        StringAssert.Contains(output, "global-threads: stock loaded TransformerChain");
    }

    /// <summary>
    /// The same ask, and the first ONNX Runtime session in the process is the throwaway one our estimator opens to read the
    /// model's contract: it makes the environment as ML.NET would, so ML.NET's own session made after it is not refused.
    /// </summary>
    [TestMethod]
    public void GetOutputSchema_FirstSessionWithMlNetGlobalThreadPools_LeavesAnEnvironmentMlNetsSessionsCanUse()
    {
        var output = LifetimeProbeProcess.Run("global-threads-contract", SmallModel());

        StringAssert.Contains(output, "global-threads-contract: our estimator read the contract");
        StringAssert.Contains(output, "global-threads-contract: stock session made");
    }

    [TestMethod]
    public void Dispose_AfterEnginesAndCursorsAreDisposed_FreesTheNativeSession()
    {
        var ml = new MLContext(1);
        var pixels = PhotoPixels(ml, SmallSize);
        var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel() }).Fit(pixels);
        PredictAndDispose(ml, transformer, new PixelRow { Pixels = Scores(pixels, "Pixels")[0] });
        Scores(transformer.Transform(pixels));
        var session = transformer.Scorer.Session;
        Assert.IsTrue(session.IsAlive);

        transformer.Dispose();

        // ML.NET's PredictionEngine never disposes the row our mapper made: that row's reference goes with the engine.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.IsFalse(session.IsAlive, "a disposed engine or cursor must not keep the native session alive");
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void PredictAndDispose(MLContext ml, ResNetClassifierTransformer transformer, PixelRow row)
    {
        using var engine = ml.Model.CreatePredictionEngine<PixelRow, Prediction>(transformer, Shared);
        engine.Predict(row);
    }

    [TestMethod]
    public void GetRowToRowMapper_MapperMadeBeforeDispose_GetRowThrowsObjectDisposed()
    {
        var ml = new MLContext(1);
        var pixels = PhotoPixels(ml, SmallSize);
        var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel() }).Fit(pixels);
        var mapper = transformer.GetRowToRowMapper(pixels.Schema);
        using var input = pixels.GetRowCursor(pixels.Schema);
        transformer.Dispose();

        Assert.ThrowsExactly<ObjectDisposedException>(() => mapper.GetRow(input, mapper.OutputSchema));
    }

    [TestMethod]
    public void Transform_CursorOpenedBeforeDispose_KeepsScoringWithTheSameAnswers()
    {
        var ml = new MLContext(1);
        var pixels = PhotoPixels(ml, SmallSize);
        var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel(), BatchSize = 2 }).Fit(pixels);
        var expected = Scores(transformer.Transform(pixels));
        var view = transformer.Transform(pixels);
        var actual = new List<float[]>();
        using (var cursor = view.GetRowCursor(view.Schema))
        {
            var getter = cursor.GetGetter<VBuffer<float>>(view.Schema["Score"]);
            VBuffer<float> value = default;
            var first = true;
            while (cursor.MoveNext())
            {
                if (first)
                {
                    transformer.Dispose();
                    first = false;
                }

                getter(ref value);
                actual.Add(value.DenseValues().ToArray());
            }
        }

        Assert.AreEqual(0f, MaxDifference(expected, actual.ToArray()));
        Assert.ThrowsExactly<ObjectDisposedException>(() => view.GetRowCursor(view.Schema));
    }

    /// <summary>Saves a classifier, then runs samples/LifetimeProbe's <paramref name="scenario"/> on the zip in a child process.</summary>
    private string RunProbe(string scenario, bool wholePipeline = false) => LifetimeProbeProcess.Run(scenario, SaveForProbe(wholePipeline));

    private string SaveForProbe(bool wholePipeline)
    {
        var ml = new MLContext(1);
        var zip = Path.Combine(Folder, "model.zip");
        var options = new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel() };
        if (wholePipeline)
        {
            var photos = Photos(ml);
            var model = PixelPipeline(ml, SmallSize).Append(ml.Transforms.ResNetClassify(options)).Fit(photos);
            ml.Model.SaveAtomically(model, photos.Schema, zip);
            (model.LastTransformer as IDisposable)?.Dispose();
        }
        else
        {
            var pixels = PhotoPixels(ml, SmallSize);
            using var transformer = ml.Transforms.ResNetClassify(options).Fit(pixels);
            transformer.Save(zip, pixels.Schema);
        }

        return zip;
    }

    private static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "ResNetMl.sln")))
            {
                return folder.FullName;
            }
        }

        Assert.Inconclusive($"The repository (ResNetMl.sln) is not above {AppContext.BaseDirectory}; samples/StockModelLoader cannot be built.");
        return "";
    }

    private static void RunDotnet(params string[] arguments)
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("dotnet " + string.Join(' ', arguments) + " did not finish in 10 minutes");
        }

        Assert.AreEqual(0, process.ExitCode, $"dotnet {string.Join(' ', arguments)}:\n{stdout.Result}\n{stderr}");
    }

    private static IEnumerable<ITransformer> Flatten(ITransformer transformer) =>
        transformer is IEnumerable<ITransformer> chain ? chain.SelectMany(Flatten) : [transformer];

    private sealed class LabelRow
    {
        public string Value { get; set; } = "";
    }

    private sealed class TruthRow
    {
        public string Truth { get; set; } = "";
    }
}
