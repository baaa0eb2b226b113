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
/// model does not have is refused at schema time. The column and its class survive a save: our loader and a stock
/// <c>Model.Load</c> give the same maps back.
/// </summary>
[TestClass]
public sealed class HeatMapColumnTests : TempFolderTest
{
    private const int Size = 224;
    private const int MapSide = 7;
    private const float RelativeTolerance = 1e-4f;

    /// <summary>Our reloaded transformer runs the same graph at the same batch size as the original.</summary>
    private const float ReloadTolerance = 1e-6f;
    private static readonly string[] Labels = ["apple", "bus", "cat", "dog", "egg", "fox", "gull", "hat", "ink", "jam"];

    private static TempFolder? _modelFolder;
    private static string _onnx = string.Empty;
    private static float[][][] _torchMaps = [];

    /// <summary>One calibrated ResNet-18 for the class, exported once; TorchSharp's maps of the photos computed once.</summary>
    [ClassInitialize]
    public static void ExportModel(TestContext _)
    {
        using var photos = LoadPhotos();
        using var model = CalibratedModel(ResNetArchitecture.ResNet18, photos, Labels.Length);
        _modelFolder = TempFolder.Create();
        _onnx = _modelFolder.File("model.onnx");
        File.WriteAllBytes(_onnx, ResNetOnnxExporter.ToBytes(model, new OnnxExportOptions { Labels = Labels }));
        _torchMaps = TorchMaps(model, ImagePipeline.PhotoPixels(new MLContext(1), Size));
    }

    [ClassCleanup]
    public static void DeleteModel() => _modelFolder?.Dispose();

    [TestMethod]
    public void Transform_HeatMapColumn_HoldsTorchSharpsMapOfThePredictedClass()
    {
        var ml = new MLContext(1);
        var pixels = ImagePipeline.PhotoPixels(ml, Size);
        using var transformer = ml.Transforms.ResNetClassify(Options(heatMapClass: null)).Fit(pixels);

        var scored = transformer.Transform(pixels);

        var column = scored.Schema["HeatMap"];
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, MapSide, MapSide), column.Type);
        AssertPredictedClassesMaps(scored, "batched cursor");
    }

    [TestMethod]
    public void Predict_HeatMapClassGiven_HoldsThatClassesMapAsTheBatchedCursorDoes()
    {
        var ml = new MLContext(1);
        var pixels = ImagePipeline.PhotoPixels(ml, Size);
        using var transformer = ml.Transforms.ResNetClassify(Options(heatMapClass: "fox")).Fit(pixels);
        using var engine = ml.Model.CreatePredictionEngine<PixelRow, MapRow>(transformer, new PredictionEngineOptions { OwnsTransformer = false });
        var rows = pixels.GetColumn<float[]>("Pixels").ToArray();
        var batched = transformer.Transform(pixels).GetColumn<float[]>("HeatMap").ToArray();

        var single = rows.Select(p => engine.Predict(new PixelRow { Pixels = p }).HeatMap.ToArray()).ToArray();

        AssertChosenClassesMaps(single, "fox", "PredictionEngine");
        AssertChosenClassesMaps(batched, "fox", "batched cursor");
    }

    [TestMethod]
    public void Load_SavedWithHeatMapColumn_WritesTheOriginalsMapsOfThePredictedClass()
    {
        var ml = new MLContext(1);
        var pixels = ImagePipeline.PhotoPixels(ml, Size);
        using var transformer = ml.Transforms.ResNetClassify(Options(heatMapClass: null)).Fit(pixels);
        var zip = Path.Combine(Folder, "model.zip");

        ml.Model.Save(transformer, pixels.Schema, zip);
        using var reopened = (ResNetClassifierTransformer)ResNetClassifierTransformer.Load(ml, zip);

        Assert.AreEqual("HeatMap", reopened.HeatMapColumnName);
        Assert.IsNull(reopened.HeatMapClass);
        var scored = reopened.Transform(pixels);
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, MapSide, MapSide), scored.Schema["HeatMap"].Type);
        Assert.IsLessThanOrEqualTo(ReloadTolerance, ScoringFixtures.MaxDifference(Maps(transformer.Transform(pixels)), Maps(scored)));
        Assert.IsLessThanOrEqualTo(ReloadTolerance, ScoringFixtures.MaxDifference(ScoringFixtures.Scores(transformer.Transform(pixels)), ScoringFixtures.Scores(scored)));
        AssertPredictedClassesMaps(scored, "reopened");
    }

    [TestMethod]
    public void Load_SavedAtomicallyWithHeatMapClass_WritesTheOriginalsMapsOfThatClass()
    {
        var ml = new MLContext(1);
        var pixels = ImagePipeline.PhotoPixels(ml, Size);
        using var transformer = ml.Transforms.ResNetClassify(Options(heatMapClass: "fox")).Fit(pixels);
        var zip = Path.Combine(Folder, "model.zip");

        transformer.Save(zip, pixels.Schema);
        using var reopened = (ResNetClassifierTransformer)ResNetClassifierTransformer.Load(ml, zip);

        Assert.AreEqual("HeatMap", reopened.HeatMapColumnName);
        Assert.AreEqual("fox", reopened.HeatMapClass);
        var maps = Maps(reopened.Transform(pixels));
        Assert.IsLessThanOrEqualTo(ReloadTolerance, ScoringFixtures.MaxDifference(Maps(transformer.Transform(pixels)), maps));
        AssertChosenClassesMaps(maps, "fox", "reopened");
    }

    /// <summary>Our loader hands the rest of a whole pipeline to ML.NET's loader with a stub in the network's place: the stub
    /// has the heat-map output too, and the classifier step that replaces it writes the column.</summary>
    [TestMethod]
    public void Load_WholePipelineSavedWithHeatMapClass_ReopensTheChainWritingTheSameMaps()
    {
        var ml = new MLContext(1);
        var photos = ImagePipeline.Photos(ml);
        var model = ImagePipeline.PixelPipeline(ml, Size).Append(ml.Transforms.ResNetClassify(Options(heatMapClass: "fox"))).Fit(photos);
        var zip = Path.Combine(Folder, "pipeline.zip");
        ml.Model.SaveAtomically(model, photos.Schema, zip);

        var reopened = (TransformerChain<ITransformer>)ResNetClassifierTransformer.Load(ml, zip);

        using var classifier = (ResNetClassifierTransformer)reopened.LastTransformer;
        using var original = (ResNetClassifierTransformer)model.LastTransformer;
        Assert.AreEqual("fox", classifier.HeatMapClass);
        var maps = Maps(reopened.Transform(photos));
        Assert.IsLessThanOrEqualTo(ReloadTolerance, ScoringFixtures.MaxDifference(Maps(model.Transform(photos)), maps));
        AssertChosenClassesMaps(maps, "fox", "reopened pipeline");
    }

    /// <summary>The zip holds ML.NET's own chain: its OnnxTransformer computes the map of the predicted class too, under the
    /// column's name and type, with no help from this library (the child-process test proves the "no help" part).</summary>
    [TestMethod]
    public void StockLoad_SavedWithHeatMapColumn_GivesThePredictedClassesMaps()
    {
        var ml = new MLContext(1);
        var pixels = ImagePipeline.PhotoPixels(ml, Size);
        using var transformer = ml.Transforms.ResNetClassify(Options(heatMapClass: null)).Fit(pixels);
        var zip = Path.Combine(Folder, "model.zip");
        ml.Model.Save(transformer, pixels.Schema, zip);

        var stock = ml.Model.Load(zip, out _);
        var scored = stock.Transform(pixels);

        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, MapSide, MapSide), scored.Schema["HeatMap"].Type);
        var ours = Maps(transformer.Transform(pixels));
        var theirs = Maps(scored);
        for (var row = 0; row < ours.Length; row++)
        {
            AssertClose(ours[row], theirs[row], $"stock chain, row {row}");
        }

        CollectionAssert.AreEqual(ScoringFixtures.Keys(transformer.Transform(pixels)), ScoringFixtures.Keys(scored));
        AssertPredictedClassesMaps(scored, "stock chain");
        (stock as IDisposable)?.Dispose();
    }

    /// <summary>The maps a save grafted onto the graph are the zip's, not the model's: exported again, the reopened
    /// transformer writes the original's file; saved again, the same column comes back.</summary>
    [TestMethod]
    public void SaveOnnx_ReopenedFromAZipWithHeatMaps_WritesTheOriginalsFileAndSavesAgain()
    {
        var ml = new MLContext(1);
        var pixels = ImagePipeline.PhotoPixels(ml, Size);
        using var transformer = ml.Transforms.ResNetClassify(Options(heatMapClass: "fox")).Fit(pixels);
        var zip = Path.Combine(Folder, "model.zip");
        transformer.Save(zip, pixels.Schema);
        using var reopened = (ResNetClassifierTransformer)ResNetClassifierTransformer.Load(ml, zip);
        var first = Path.Combine(Folder, "original.onnx");
        var second = Path.Combine(Folder, "reopened.onnx");
        var again = Path.Combine(Folder, "again.zip");

        transformer.SaveOnnx(first);
        reopened.SaveOnnx(second);
        reopened.Save(again, pixels.Schema);

        CollectionAssert.AreEqual(File.ReadAllBytes(first), File.ReadAllBytes(second));
        using var twice = (ResNetClassifierTransformer)ResNetClassifierTransformer.Load(ml, again);
        Assert.AreEqual("fox", twice.HeatMapClass);
        Assert.IsLessThanOrEqualTo(ReloadTolerance, ScoringFixtures.MaxDifference(Maps(transformer.Transform(pixels)), Maps(twice.Transform(pixels))));
    }

    /// <summary>A model exported with its own maps (IncludeHeatMaps' graph) keeps them: the save grafts nothing, and the
    /// reopened transformer exports the maps as the original does.</summary>
    [TestMethod]
    public void SaveOnnx_ModelWithItsOwnMapsReopenedFromAZip_KeepsThem()
    {
        var ml = new MLContext(1);
        var pixels = ImagePipeline.PhotoPixels(ml, Size);
        var withMaps = Path.Combine(Folder, "with-maps.onnx");
        File.WriteAllBytes(withMaps, HeatMapGraph.AddOutput(File.ReadAllBytes(_onnx)));
        var options = Options(heatMapClass: null);
        options.ModelPath = withMaps;
        using var transformer = ml.Transforms.ResNetClassify(options).Fit(pixels);
        var zip = Path.Combine(Folder, "model.zip");
        transformer.Save(zip, pixels.Schema);
        using var reopened = (ResNetClassifierTransformer)ResNetClassifierTransformer.Load(ml, zip);
        var exported = Path.Combine(Folder, "reopened.onnx");

        reopened.SaveOnnx(exported);

        CollectionAssert.AreEqual(File.ReadAllBytes(withMaps), File.ReadAllBytes(exported));
        Assert.IsLessThanOrEqualTo(ReloadTolerance, ScoringFixtures.MaxDifference(Maps(transformer.Transform(pixels)), Maps(reopened.Transform(pixels))));
    }

    [TestMethod]
    public void GetOutputSchema_HeatMapClassNotALabel_ThrowsListingTheLabels()
    {
        var ml = new MLContext(1);
        var pixels = ImagePipeline.PhotoPixels(ml, Size);
        var estimator = ml.Transforms.ResNetClassify(Options(heatMapClass: "zebra"));

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

    private static ResNetClassifierOptions Options(string? heatMapClass) =>
        new() { FeatureColumnName = "Pixels", ModelPath = _onnx, HeatMapColumnName = "HeatMap", HeatMapClass = heatMapClass, BatchSize = 2 };

    private static float[][] Maps(IDataView scored) => scored.GetColumn<float[]>("HeatMap").ToArray();

    /// <summary>Each row's map is TorchSharp's map of the row's predicted class, and no other class's.</summary>
    private static void AssertPredictedClassesMaps(IDataView scored, string what)
    {
        var maps = Maps(scored);
        var predicted = scored.GetColumn<uint>("PredictedLabel").Select(k => (int)k - 1).ToArray();
        Assert.HasCount(_torchMaps.Length, maps, $"{what}: rows");
        for (var row = 0; row < maps.Length; row++)
        {
            AssertClose(_torchMaps[row][predicted[row]], maps[row], $"{what}, row {row}, predicted class {predicted[row]}");

            // Only the predicted class's map fits: the column did not take another class.
            var fitting = Enumerable.Range(0, Labels.Length).Where(c => MaxAbsDifference(_torchMaps[row][c], maps[row]) <= RelativeTolerance * _torchMaps[row][c].Max(Math.Abs));
            CollectionAssert.AreEqual(new[] { predicted[row] }, fitting.ToArray(), $"{what}, row {row}: classes whose map the column matches");
        }
    }

    private static void AssertChosenClassesMaps(float[][] maps, string label, string what)
    {
        var index = Array.IndexOf(Labels, label);
        Assert.HasCount(_torchMaps.Length, maps, $"{what}: rows");
        for (var row = 0; row < maps.Length; row++)
        {
            AssertClose(_torchMaps[row][index], maps[row], $"{what}, row {row}");
        }
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
