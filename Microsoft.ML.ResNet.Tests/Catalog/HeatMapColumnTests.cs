using Microsoft.ML.Data;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Tests.Scoring;
using static TorchSharp.torch;
using static Microsoft.ML.ResNet.Tests.Export.ExportFixtures;

namespace Microsoft.ML.ResNet.Tests.Catalog;

/// <summary>
/// <see cref="ResNetClassifierOptions.HeatMapColumnName"/>: the batched cursor and the PredictionEngine row give each row
/// the map TorchSharp computes from the same weights (for the predicted class, or the class asked for), and a label the
/// model does not have is refused at schema time.
/// </summary>
[TestClass]
public sealed class HeatMapColumnTests : TempFolderTest
{
    private const int Size = 224;
    private const int MapSide = 7;
    private const float RelativeTolerance = 1e-4f;
    private static readonly string[] Labels = ["apple", "bus", "cat", "dog", "egg", "fox", "gull", "hat", "ink", "jam"];

    [TestMethod]
    public void Transform_HeatMapColumn_HoldsTorchSharpsMapOfThePredictedClass()
    {
        using var photos = LoadPhotos();
        using var model = CalibratedModel(ResNetArchitecture.ResNet18, photos, Labels.Length);
        var ml = new MLContext(1);
        var pixels = ImagePipeline.PhotoPixels(ml, Size);
        using var transformer = ml.Transforms.ResNetClassify(Options(model, heatMapClass: null)).Fit(pixels);

        var scored = transformer.Transform(pixels);

        var column = scored.Schema["HeatMap"];
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, MapSide, MapSide), column.Type);
        var maps = scored.GetColumn<float[]>("HeatMap").ToArray();
        var predicted = scored.GetColumn<uint>("PredictedLabel").Select(k => (int)k - 1).ToArray();
        var expected = TorchMaps(model, pixels);
        for (var row = 0; row < maps.Length; row++)
        {
            AssertClose(expected[row][predicted[row]], maps[row], $"row {row}, predicted class {predicted[row]}");

            // Only the predicted class's map fits: the column did not take another class.
            var fitting = Enumerable.Range(0, Labels.Length).Where(c => MaxAbsDifference(expected[row][c], maps[row]) <= RelativeTolerance * expected[row][c].Max(Math.Abs));
            CollectionAssert.AreEqual(new[] { predicted[row] }, fitting.ToArray(), $"row {row}: classes whose map the column matches");
        }
    }

    [TestMethod]
    public void Predict_HeatMapClassGiven_HoldsThatClassesMapAsTheBatchedCursorDoes()
    {
        using var photos = LoadPhotos();
        using var model = CalibratedModel(ResNetArchitecture.ResNet18, photos, Labels.Length);
        var ml = new MLContext(1);
        var pixels = ImagePipeline.PhotoPixels(ml, Size);
        using var transformer = ml.Transforms.ResNetClassify(Options(model, heatMapClass: "fox")).Fit(pixels);
        using var engine = ml.Model.CreatePredictionEngine<PixelRow, MapRow>(transformer, new PredictionEngineOptions { OwnsTransformer = false });
        var rows = pixels.GetColumn<float[]>("Pixels").ToArray();
        var batched = transformer.Transform(pixels).GetColumn<float[]>("HeatMap").ToArray();

        var single = rows.Select(p => engine.Predict(new PixelRow { Pixels = p }).HeatMap.ToArray()).ToArray();

        var expected = TorchMaps(model, pixels);
        var fox = Array.IndexOf(Labels, "fox");
        for (var row = 0; row < rows.Length; row++)
        {
            AssertClose(expected[row][fox], single[row], $"PredictionEngine, row {row}");
            AssertClose(expected[row][fox], batched[row], $"batched cursor, row {row}");
        }
    }

    /// <summary>The zip holds ML.NET's own chain, which has no heat maps: it loads without the column and scores the same.</summary>
    [TestMethod]
    public void Save_HeatMapColumn_ZipLoadsWithoutItAndScoresTheSame()
    {
        using var photos = LoadPhotos();
        using var model = CalibratedModel(ResNetArchitecture.ResNet18, photos, Labels.Length);
        var ml = new MLContext(1);
        var pixels = ImagePipeline.PhotoPixels(ml, Size);
        using var transformer = ml.Transforms.ResNetClassify(Options(model, heatMapClass: null)).Fit(pixels);
        var zip = Path.Combine(Folder, "model.zip");

        ml.Model.Save(transformer, pixels.Schema, zip);

        using var reopened = (ResNetClassifierTransformer)ResNetClassifierTransformer.Load(ml, zip);
        Assert.AreEqual("HeatMap", transformer.HeatMapColumnName);
        Assert.IsNull(reopened.HeatMapColumnName);
        Assert.IsNull(reopened.Transform(pixels).Schema.GetColumnOrNull("HeatMap"));
        var expected = ScoringFixtures.Scores(transformer.Transform(pixels));
        Assert.IsLessThanOrEqualTo(1e-6f, ScoringFixtures.MaxDifference(expected, ScoringFixtures.Scores(reopened.Transform(pixels))));
    }

    [TestMethod]
    public void GetOutputSchema_HeatMapClassNotALabel_ThrowsListingTheLabels()
    {
        using var photos = LoadPhotos();
        using var model = CalibratedModel(ResNetArchitecture.ResNet18, photos, Labels.Length);
        var ml = new MLContext(1);
        var pixels = ImagePipeline.PhotoPixels(ml, Size);
        var estimator = ml.Transforms.ResNetClassify(Options(model, heatMapClass: "zebra"));

        var imagePaths = ml.Transforms.CustomMapping<NoInput, ImagePipeline.ImageRow>((_, _) => { }, contractName: null).GetOutputSchema(new SchemaShape([]));

        var error = Assert.ThrowsExactly<ArgumentException>(() => ImagePipeline.PixelPipeline(ml, Size).Append(estimator).GetOutputSchema(imagePaths));

        Assert.AreEqual(nameof(ResNetClassifierOptions.HeatMapClass), error.ParamName);
        StringAssert.Contains(error.Message, "'zebra'");
        StringAssert.Contains(error.Message, "apple, bus, cat");
        Assert.ThrowsExactly<ArgumentException>(() => estimator.Fit(pixels));
    }

    [TestMethod]
    public void ResNetClassify_HeatMapClassWithoutColumn_ThrowsArgumentException()
    {
        var ml = new MLContext(1);

        var error = Assert.ThrowsExactly<ArgumentException>(
            () => ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = "any.onnx", HeatMapClass = "fox" }));

        Assert.AreEqual(nameof(ResNetClassifierOptions.HeatMapClass), error.ParamName);
    }

    private ResNetClassifierOptions Options(ResNetModel model, string? heatMapClass)
    {
        var path = Path.Combine(Folder, "model.onnx");
        File.WriteAllBytes(path, ResNetOnnxExporter.ToBytes(model, new OnnxExportOptions { Labels = Labels }));
        return new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = path, HeatMapColumnName = "HeatMap", HeatMapClass = heatMapClass, BatchSize = 2 };
    }

    /// <summary>TorchSharp's maps [row][class] for the rows' pixels: the stem and four stages, then fc.weight over channels.</summary>
    private static float[][][] TorchMaps(ResNetModel model, IDataView pixels)
    {
        var rows = pixels.GetColumn<float[]>("Pixels").ToArray();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = Normalize(tensor(rows.SelectMany(r => r).ToArray(), [rows.Length, 3, Size, Size]));
        x = model.maxpool.call(model.relu.call(model.bn1.call(model.conv1.call(x))));
        x = model.layer4.call(model.layer3.call(model.layer2.call(model.layer1.call(x))));
        var maps = einsum("ck,nkhw->nchw", model.fc.weight!, x).contiguous().data<float>().ToArray();
        var cells = MapSide * MapSide;
        return Enumerable.Range(0, rows.Length)
            .Select(n => Enumerable.Range(0, Labels.Length).Select(c => maps.AsSpan(((n * Labels.Length) + c) * cells, cells).ToArray()).ToArray())
            .ToArray();
    }

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        var scale = expected.Max(Math.Abs);
        Assert.IsGreaterThan(1e-3f, scale, $"{what}: the map is not all zero");
        var difference = MaxAbsDifference(expected, actual);
        Assert.IsLessThanOrEqualTo(RelativeTolerance * scale, difference, $"{what}: max |difference| {difference:g3}, max |map| {scale:g3}");
    }

    private sealed class NoInput
    {
    }

    private sealed class PixelRow
    {
        [VectorType(3 * Size * Size)]
        public float[] Pixels { get; set; } = [];
    }

    private sealed class MapRow
    {
        public float[] HeatMap { get; set; } = [];
    }
}
