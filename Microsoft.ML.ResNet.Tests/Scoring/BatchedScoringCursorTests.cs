using Google.Protobuf;
using Microsoft.ML.Data;
using Onnx;
using static Microsoft.ML.ResNet.Tests.Scoring.ScoringFixtures;
using static Microsoft.ML.ResNet.Tests.Support.FixtureModels;
using static Microsoft.ML.ResNet.Tests.Support.ImagePipeline;

namespace Microsoft.ML.ResNet.Tests.Scoring;

/// <summary>Rows that must not be scored silently, through the batched cursor and the PredictionEngine row.</summary>
[TestClass]
public sealed class BatchedScoringCursorTests : TempFolderTest
{
    [TestMethod]
    public void MoveNext_MissingImageFile_NamesTheRowAndThePath()
    {
        var missing = Path.Combine(Folder, "missing.png");
        var photos = PhotoPaths();

        var error = ScoreAll([photos[0], photos[1], missing, photos[3]]);

        StringAssert.Contains(error.Message, "Row 2");
        StringAssert.Contains(error.Message, missing);
        Assert.IsInstanceOfType<FileNotFoundException>(error.InnerException, error.ToString());
    }

    [TestMethod]
    public void MoveNext_CorruptImageFile_NamesTheRowAndThePath()
    {
        var corrupt = Path.Combine(Folder, "corrupt.png");
        File.WriteAllBytes(corrupt, [0x89, 0x50, 0x4E, 0x47, 1, 2, 3, 4, 5]);
        var photos = PhotoPaths();

        var error = ScoreAll([photos[0], corrupt, photos[2]]);

        StringAssert.Contains(error.Message, "Row 1");
        StringAssert.Contains(error.Message, corrupt);
        Assert.IsNotNull(error.InnerException);
        Assert.IsFalse(error.InnerException.Message.Contains("worker", StringComparison.OrdinalIgnoreCase), "ML.NET's worker wrapper is unwrapped: " + error.InnerException.Message);
    }

    [TestMethod]
    public void MoveNext_EmptyImagePath_IsRejectedNotScored()
    {
        var photos = PhotoPaths();

        var error = ScoreAll([photos[0], "", photos[2]]);

        // After a real image, ML.NET's loader hands the resizer a disposed image; either way the row fails, named.
        StringAssert.Contains(error.Message, "Row 1");
        StringAssert.Contains(error.Message, "ImagePath = ''");
        StringAssert.Contains(error.Message, "empty");
    }

    [TestMethod]
    public void MoveNext_EmptyImagePathFirstWithRejectAllZeroPixels_AllZeroImageIsRejected()
    {
        var photos = PhotoPaths();

        var error = ScoreAll(["", photos[1]], new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel(), BatchSize = 2, RejectAllZeroPixels = true });

        StringAssert.Contains(error.Message, "Row 0 (ImagePath = '')");
        StringAssert.Contains(error.Message, "every pixel is 0");
    }

    [TestMethod]
    public void MoveNext_EmptyImagePathFirstWithImageColumn_IsRejectedNamingTheRow()
    {
        var photos = PhotoPaths();

        var error = ScoreAll(["", photos[1]], new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel(), BatchSize = 2, ImageColumnName = "Image" });

        StringAssert.Contains(error.Message, "Row 0 (ImagePath = '')");
        StringAssert.Contains(error.Message, "'Image'");
        StringAssert.Contains(error.Message, "no image");
    }

    [TestMethod]
    public void MoveNext_BlackImageFileWithImageColumn_ScoresTheRow()
    {
        var black = BlackPng();
        var ml = new MLContext(1);
        var pipeline = PixelPipeline(ml, SmallSize).Append(ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel(), ImageColumnName = "Image" }));
        var model = pipeline.Fit(Photos(ml));
        try
        {
            var scores = Scores(model.Transform(Paths(ml, [PhotoPaths()[0], black])));

            Assert.HasCount(2, scores);
            Assert.AreEqual(1.0, scores[1].Sum(), 1e-4);
        }
        finally
        {
            (model.LastTransformer as IDisposable)?.Dispose();
        }
    }

    [TestMethod]
    public void MoveNext_AllZeroPixelsByDefault_ScoresTheRow()
    {
        var ml = new MLContext(1);
        var rows = new[] { new PixelRow { Pixels = new float[3 * SmallSize * SmallSize] } };
        var data = ml.Data.LoadFromEnumerable(rows);
        using var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel() }).Fit(data);

        var scores = Scores(transformer.Transform(data));

        Assert.AreEqual(1.0, scores[0].Sum(), 1e-4);
    }

    [TestMethod]
    [DataRow(float.PositiveInfinity, "+Infinity")]
    [DataRow(float.NegativeInfinity, "-Infinity")]
    public void MoveNext_InfinitePixel_IsRejectedNamingRowColumnIndexAndValue(float value, string expected)
    {
        var ml = new MLContext(1);
        var rows = Enumerable.Range(0, 3).Select(_ => new PixelRow { Pixels = Enumerable.Repeat(0.5f, 3 * SmallSize * SmallSize).ToArray() }).ToArray();
        rows[1].Pixels[42] = value;
        var data = ml.Data.LoadFromEnumerable(rows);
        using var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel() }).Fit(data);

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => Scores(transformer.Transform(data)));

        StringAssert.Contains(error.Message, "Row 1");
        StringAssert.Contains(error.Message, "'Pixels'");
        StringAssert.Contains(error.Message, $"pixel 42 is {expected}");
    }

    [TestMethod]
    public void MoveNext_AfterARowError_ThrowsTheSameErrorAgainAndServesNoRow()
    {
        var ml = new MLContext(1);
        var rows = Enumerable.Range(0, 6).Select(_ => new PixelRow { Pixels = Enumerable.Repeat(0.5f, 3 * SmallSize * SmallSize).ToArray() }).ToArray();
        rows[3].Pixels[0] = float.NaN;
        var data = ml.Data.LoadFromEnumerable(rows);
        using var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel(), BatchSize = 2 }).Fit(data);
        var scored = transformer.Transform(data);
        using var cursor = scored.GetRowCursor(scored.Schema);
        Assert.IsTrue(cursor.MoveNext());
        Assert.IsTrue(cursor.MoveNext());

        var first = Assert.ThrowsExactly<InvalidOperationException>(() => cursor.MoveNext());
        var second = Assert.ThrowsExactly<InvalidOperationException>(() => cursor.MoveNext());

        Assert.AreSame(first, second);
        StringAssert.Contains(first.Message, "Row 3");
        Assert.AreEqual(1, cursor.Position, "the cursor did not move past the failed batch");
    }

    [TestMethod]
    public void MoveNext_NaNWeights_ThrowsNamingTheRowInsteadOfLabelZero()
    {
        var ml = new MLContext(1);
        var rows = Enumerable.Range(0, 3).Select(_ => new PixelRow { Pixels = Enumerable.Repeat(0.5f, 3 * SmallSize * SmallSize).ToArray() }).ToArray();
        var data = ml.Data.LoadFromEnumerable(rows);
        using var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = NaNWeightsModel(), BatchSize = 2 }).Fit(data);

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => Keys(transformer.Transform(data)));

        StringAssert.Contains(error.Message, "Row 0");
        StringAssert.Contains(error.Message, "is NaN");
    }

    [TestMethod]
    public void Predict_NaNWeights_ThrowsInsteadOfLabelZero()
    {
        var ml = new MLContext(1);
        var row = new PixelRow { Pixels = Enumerable.Repeat(0.5f, 3 * SmallSize * SmallSize).ToArray() };
        using var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = NaNWeightsModel() }).Fit(ml.Data.LoadFromEnumerable(new[] { row }));
        using var engine = ml.Model.CreatePredictionEngine<PixelRow, Prediction>(transformer, new PredictionEngineOptions { OwnsTransformer = false });

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => engine.Predict(row));

        StringAssert.Contains(error.Message, "is NaN");
    }

    [TestMethod]
    [DataRow(new byte[0], DisplayName = "empty file")]
    [DataRow(new byte[] { 0x89, 0x50, 0x4E, 0x47, 1, 2, 3, 4, 5 }, DisplayName = "truncated PNG")]
    public void MoveNext_UndecodableImageFile_SaysItCouldNotBeDecodedNotThatThePathIsEmpty(byte[] content)
    {
        var bad = Path.Combine(Folder, "bad.png");
        File.WriteAllBytes(bad, content);
        var photos = PhotoPaths();
        var ml = new MLContext(1);
        var rows = new[] { photos[0], bad, photos[2] }.Select(p => new NotedImageRow { ImagePath = p, Note = "" }).ToArray();
        var pipeline = PixelPipeline(ml, SmallSize).Append(ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel(), BatchSize = 2 }));
        var model = pipeline.Fit(Photos(ml));
        try
        {
            var error = Assert.ThrowsExactly<InvalidOperationException>(() => Scores(model.Transform(ml.Data.LoadFromEnumerable(rows))));

            StringAssert.Contains(error.Message, "Row 1");
            StringAssert.Contains(error.Message, bad);
            StringAssert.Contains(error.Message, "could not be decoded");
            Assert.IsFalse(error.Message.Contains("path empty", StringComparison.Ordinal), error.Message);
        }
        finally
        {
            (model.LastTransformer as IDisposable)?.Dispose();
        }
    }

    [TestMethod]
    public void MoveNext_NaNPixel_IsRejectedNamingRowAndSlot()
    {
        var ml = new MLContext(1);
        var rows = Enumerable.Range(0, 3).Select(_ => new PixelRow { Pixels = Enumerable.Repeat(0.5f, 3 * SmallSize * SmallSize).ToArray() }).ToArray();
        rows[2].Pixels[17] = float.NaN;
        var data = ml.Data.LoadFromEnumerable(rows);
        using var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel() }).Fit(data);

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => Scores(transformer.Transform(data)));

        StringAssert.Contains(error.Message, "Row 2");
        StringAssert.Contains(error.Message, "pixel 17 is NaN");
    }

    [TestMethod]
    public void Predict_NaNPixel_IsRejected()
    {
        var ml = new MLContext(1);
        var row = new PixelRow { Pixels = Enumerable.Repeat(0.5f, 3 * SmallSize * SmallSize).ToArray() };
        row.Pixels[0] = float.NaN;
        using var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel() }).Fit(ml.Data.LoadFromEnumerable(new[] { row }));
        using var engine = ml.Model.CreatePredictionEngine<PixelRow, Prediction>(transformer, new PredictionEngineOptions { OwnsTransformer = false });

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => engine.Predict(row));

        StringAssert.Contains(error.Message, "pixel 0 is NaN");
    }

    [TestMethod]
    public void Cursor_OnlyPassThroughColumns_DoesNotReadImages()
    {
        // A missing file is not an error when no output column is read: the cursor is lazy.
        var ml = new MLContext(1);
        var data = Paths(ml, [PhotoPaths()[0], Path.Combine(Folder, "missing.png")]);
        var pipeline = PixelPipeline(ml, SmallSize).Append(ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel() }));
        var model = pipeline.Fit(Photos(ml));

        var paths = model.Transform(data).GetColumn<string>("ImagePath").ToArray();

        Assert.HasCount(2, paths);
        (model.LastTransformer as IDisposable)?.Dispose();
    }

    /// <summary>A real 64x64 PNG whose every pixel is black (opaque).</summary>
    private string BlackPng()
    {
        var path = Path.Combine(Folder, "black.png");
        var bgra = new byte[SmallSize * SmallSize * 4];
        for (var i = 3; i < bgra.Length; i += 4)
        {
            bgra[i] = 255;
        }

        using var image = MLImage.CreateFromPixels(SmallSize, SmallSize, MLPixelFormat.Bgra32, bgra);
        image.Save(path);
        return path;
    }

    /// <summary><see cref="SmallModel"/> with its classifier's bias set to NaN: every score comes out NaN.</summary>
    private string NaNWeightsModel()
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(SmallModel()));
        var gemm = model.Graph.Node.Last(n => n.OpType == "Gemm");
        var bias = model.Graph.Initializer.Single(i => i.Name == gemm.Input[2]);
        var count = (int)bias.Dims.Aggregate(1L, (a, b) => a * b);
        bias.FloatData.Clear();
        bias.RawData = ByteString.CopyFrom(Enumerable.Repeat(float.NaN, count).SelectMany(BitConverter.GetBytes).ToArray());
        var path = Path.Combine(Folder, "nan.onnx");
        File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }

    private static InvalidOperationException ScoreAll(string[] paths, ResNetClassifierOptions? options = null)
    {
        var ml = new MLContext(1);
        var pipeline = PixelPipeline(ml, SmallSize).Append(ml.Transforms.ResNetClassify(options ?? new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel(), BatchSize = 2 }));
        var model = pipeline.Fit(Photos(ml));
        try
        {
            var scored = model.Transform(Paths(ml, paths));
            return Assert.ThrowsExactly<InvalidOperationException>(() => Scores(scored));
        }
        finally
        {
            (model.LastTransformer as IDisposable)?.Dispose();
        }
    }

    private sealed class NotedImageRow
    {
        public string ImagePath { get; set; } = "";

        public string Note { get; set; } = "";
    }
}
