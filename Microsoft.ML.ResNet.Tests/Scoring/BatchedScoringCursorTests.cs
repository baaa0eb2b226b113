using Microsoft.ML.Data;
using static Microsoft.ML.ResNet.Tests.Scoring.ScoringFixtures;

namespace Microsoft.ML.ResNet.Tests.Scoring;

/// <summary>Rows that must not be scored silently, through the batched cursor and the PredictionEngine row.</summary>
[TestClass]
public sealed class BatchedScoringCursorTests
{
    private string _folder = "";

    [TestInitialize]
    public void CreateFolder() => _folder = TestPaths.NewTempFolder();

    [TestCleanup]
    public void DeleteFolder() => Directory.Delete(_folder, recursive: true);

    [TestMethod]
    public void MoveNext_MissingImageFile_NamesTheRowAndThePath()
    {
        var missing = Path.Combine(_folder, "missing.png");
        var photos = PhotoPaths();

        var error = ScoreAll([photos[0], photos[1], missing, photos[3]]);

        StringAssert.Contains(error.Message, "Row 2");
        StringAssert.Contains(error.Message, missing);
        Assert.IsInstanceOfType<FileNotFoundException>(error.InnerException, error.ToString());
    }

    [TestMethod]
    public void MoveNext_CorruptImageFile_NamesTheRowAndThePath()
    {
        var corrupt = Path.Combine(_folder, "corrupt.png");
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
    public void MoveNext_EmptyImagePathFirst_AllZeroImageIsRejected()
    {
        var photos = PhotoPaths();

        var error = ScoreAll(["", photos[1]]);

        StringAssert.Contains(error.Message, "Row 0 (ImagePath = '')");
        StringAssert.Contains(error.Message, "every pixel is 0");
    }

    [TestMethod]
    public void MoveNext_AllZeroPixelsAllowed_ScoresTheRow()
    {
        var ml = new MLContext(1);
        var rows = new[] { new PixelRow { Pixels = new float[3 * SmallSize * SmallSize] } };
        var data = ml.Data.LoadFromEnumerable(rows);
        using var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { ModelPath = SmallModel(), RejectAllZeroPixels = false }).Fit(data);

        var scores = Scores(transformer.Transform(data));

        Assert.AreEqual(1.0, scores[0].Sum(), 1e-4);
    }

    [TestMethod]
    public void MoveNext_NaNPixel_IsRejectedNamingRowAndSlot()
    {
        var ml = new MLContext(1);
        var rows = Enumerable.Range(0, 3).Select(_ => new PixelRow { Pixels = Enumerable.Repeat(0.5f, 3 * SmallSize * SmallSize).ToArray() }).ToArray();
        rows[2].Pixels[17] = float.NaN;
        var data = ml.Data.LoadFromEnumerable(rows);
        using var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { ModelPath = SmallModel() }).Fit(data);

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
        using var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { ModelPath = SmallModel() }).Fit(ml.Data.LoadFromEnumerable(new[] { row }));
        using var engine = ml.Model.CreatePredictionEngine<PixelRow, Prediction>(transformer, new PredictionEngineOptions { OwnsTransformer = false });

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => engine.Predict(row));

        StringAssert.Contains(error.Message, "pixel 0 is NaN");
    }

    [TestMethod]
    public void Cursor_OnlyPassThroughColumns_DoesNotReadImages()
    {
        // A missing file is not an error when no output column is read: the cursor is lazy.
        var ml = new MLContext(1);
        var data = Paths(ml, [PhotoPaths()[0], Path.Combine(_folder, "missing.png")]);
        var pipeline = PixelPipeline(ml, SmallSize).Append(ml.Transforms.ResNetClassify(new ResNetClassifierOptions { ModelPath = SmallModel() }));
        var model = pipeline.Fit(Photos(ml));

        var paths = model.Transform(data).GetColumn<string>("ImagePath").ToArray();

        Assert.HasCount(2, paths);
        (model.LastTransformer as IDisposable)?.Dispose();
    }

    private static InvalidOperationException ScoreAll(string[] paths)
    {
        var ml = new MLContext(1);
        var pipeline = PixelPipeline(ml, SmallSize).Append(ml.Transforms.ResNetClassify(new ResNetClassifierOptions { ModelPath = SmallModel(), BatchSize = 2 }));
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
}
