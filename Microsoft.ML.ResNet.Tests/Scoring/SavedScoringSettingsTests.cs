using Google.Protobuf;
using Microsoft.ML.ResNet.Scoring;
using Onnx;
using static Microsoft.ML.ResNet.Tests.Scoring.ScoringFixtures;
using static Microsoft.ML.ResNet.Tests.Support.FixtureModels;
using static Microsoft.ML.ResNet.Tests.Support.ImagePipeline;

namespace Microsoft.ML.ResNet.Tests.Scoring;

/// <summary>
/// The settings JSON a saved zip carries, across versions: zips written before the heat-map fields (and before the image
/// column) load as transformers without them, and a save without a heat-map column writes no heat-map field.
/// </summary>
[TestClass]
public sealed class SavedScoringSettingsTests : TempFolderTest
{
    /// <summary>What the first release wrote (commit 84da857; "Columns" is a copy of the fields, ignored when read).</summary>
    private const string FirstReleaseJson =
        """{"InputColumnName":"Pixels","ScoreColumnName":"Score","PredictedLabelColumnName":"PredictedLabel","FeaturesColumnName":null,"BatchSize":32,"RejectAllZeroPixels":false,"Columns":{"Input":"Pixels","Score":"Score","PredictedLabel":"PredictedLabel","Features":null}}""";

    /// <summary>What saves wrote from commit 025f34b (the image column) to 705ffee.</summary>
    private const string ImageColumnJson =
        """{"InputColumnName":"Pixels","ScoreColumnName":"Score","PredictedLabelColumnName":"PredictedLabel","FeaturesColumnName":null,"BatchSize":32,"RejectAllZeroPixels":false,"ImageColumnName":null,"Columns":{"Input":"Pixels","Score":"Score","PredictedLabel":"PredictedLabel","Features":null,"Image":null}}""";

    /// <summary>What saves wrote from commit 705ffee (the heat-map column, not saved) to 52590c1, with a heat-map column or
    /// without: its graph had no maps either.</summary>
    private const string BeforeHeatMapsJson =
        """{"InputColumnName":"Pixels","ScoreColumnName":"Score","PredictedLabelColumnName":"PredictedLabel","FeaturesColumnName":null,"BatchSize":32,"RejectAllZeroPixels":false,"ImageColumnName":null,"Columns":{"Input":"Pixels","Score":"Score","PredictedLabel":"PredictedLabel","Features":null,"Image":null,"HeatMap":null,"HeatMapClass":null,"Outputs":[0,1]}}""";

    [TestMethod]
    [DataRow(FirstReleaseJson)]
    [DataRow(ImageColumnJson)]
    [DataRow(BeforeHeatMapsJson)]
    public void FromJson_SettingsWrittenBeforeHeatMaps_ReadWithoutAHeatMapColumn(string json)
    {
        var settings = SavedScoringSettings.FromJson(json);

        Assert.AreEqual(new ScoringColumns("Pixels", "Score", "PredictedLabel", null), settings.Columns);
        Assert.AreEqual(32, settings.BatchSize);
    }

    [TestMethod]
    public void ToJson_NoHeatMapColumn_WritesNoHeatMapField()
    {
        var settings = new SavedScoringSettings("Pixels", "Score", "PredictedLabel", null, 32, false);

        Assert.AreEqual(
            """{"InputColumnName":"Pixels","ScoreColumnName":"Score","PredictedLabelColumnName":"PredictedLabel","FeaturesColumnName":null,"BatchSize":32,"RejectAllZeroPixels":false,"ImageColumnName":null}""",
            settings.ToJson());
    }

    [TestMethod]
    public void ToJson_HeatMapColumnAndClass_ReadBackTheSame()
    {
        var columns = new ScoringColumns("Pixels", "Score", "PredictedLabel", "Features", "Image", "HeatMap", "fox");
        var settings = SavedScoringSettings.Of(columns, 8, rejectAllZeroPixels: true);

        var read = SavedScoringSettings.FromJson(settings.ToJson());

        Assert.AreEqual(settings, read);
        Assert.AreEqual(columns, read.Columns);
    }

    /// <summary>A real zip (its graph without maps, as every zip was before) whose settings are replaced by earlier ones,
    /// through the reader's own zip rewrite: our loader opens it without a heat-map column and scores as the transformer
    /// that saved it.</summary>
    [TestMethod]
    [DataRow(FirstReleaseJson)]
    [DataRow(BeforeHeatMapsJson)]
    public void Load_ZipWithSettingsWrittenBeforeHeatMaps_ReopensWithoutAHeatMapColumn(string json)
    {
        var ml = new MLContext(1);
        var pixels = PhotoPixels(ml, SmallSize);
        using var transformer = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel(), BatchSize = 4 }).Fit(pixels);
        var saved = Path.Combine(Folder, "saved.zip");
        ml.Model.Save(transformer, pixels.Schema, saved);
        var old = Path.Combine(Folder, "old.zip");
        WriteWithSettings(saved, json, old);

        using var reopened = (ResNetClassifierTransformer)ResNetClassifierTransformer.Load(ml, old);

        Assert.IsNull(reopened.HeatMapColumnName);
        Assert.IsNull(reopened.HeatMapClass);
        Assert.AreEqual(32, reopened.BatchSize, "the old settings were read (the transformer saved batch 4)");
        var scored = reopened.Transform(pixels);
        Assert.IsNull(scored.Schema.GetColumnOrNull("HeatMap"));
        Assert.IsLessThanOrEqualTo(1e-5f, MaxDifference(Scores(transformer.Transform(pixels)), Scores(scored)));
    }

    private static void WriteWithSettings(string zip, string json, string target)
    {
        var entry = SavedModelReader.Read(zip).Single();
        var model = ModelProto.Parser.ParseFrom(entry.Onnx);
        var settings = model.MetadataProps.Single(p => p.Key == SavedScoringSettings.MetadataKey);
        Assert.AreNotEqual(json, settings.Value, "the fixture zip is saved with other settings than the ones written over them");
        settings.Value = json;
        using var rewritten = SavedModelReader.WithReplacedOnnx(zip, new Dictionary<string, byte[]> { [entry.EntryName] = model.ToByteArray() });
        File.WriteAllBytes(target, rewritten.ToArray());
    }
}
