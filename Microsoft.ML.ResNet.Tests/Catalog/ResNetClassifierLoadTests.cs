using System.Text.Json;
using Google.Protobuf;
using Microsoft.ML.ResNet.Scoring;
using Onnx;
using static Microsoft.ML.ResNet.Tests.Scoring.ScoringFixtures;
using static Microsoft.ML.ResNet.Tests.Support.FixtureModels;
using static Microsoft.ML.ResNet.Tests.Support.ImagePipeline;

namespace Microsoft.ML.ResNet.Tests.Catalog;

/// <summary>
/// Our loader's way through a saved pipeline: the graph's declared signature read without its weights, the stub made
/// from it, and the sessions made beside ML.NET's loading of the chain.
/// </summary>
[TestClass]
public sealed class ResNetClassifierLoadTests : TempFolderTest
{
    [TestMethod]
    public void Read_SavedPipeline_GivesTheGraphsDeclaredPixelInputAndFlatOutputs()
    {
        var path = SavePipeline(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel(), EmbeddingColumnName = "Embedding" });

        var entry = SavedModelReader.Read(path).Single();

        var pixels = entry.Inputs.Single(i => i.Name == "Pixels");
        Assert.IsFalse(pixels.Type.TensorType.Shape.Dim[0].HasDimValue, "the batch is symbolic");
        CollectionAssert.AreEqual(new[] { "3", $"{SmallSize}", $"{SmallSize}" }, Dimensions(pixels)[1..]);
        var widths = entry.Outputs.Where(o => o.Name.StartsWith("resnetml_", StringComparison.Ordinal)).ToDictionary(o => o.Name, o => Dimensions(o).Single());
        Assert.AreEqual($"{SmallLabels.Length}", widths["resnetml_flat_probabilities"]);
        Assert.AreEqual("3", widths["resnetml_label_bits"], "5 labels take 3 bits");
        Assert.AreEqual("512", widths["resnetml_flat_features"]);
    }

    [TestMethod]
    public void Load_SavedGraphLacksItsPixelInput_ThrowsInvalidDataNamingTheEntryAndTheColumn()
    {
        var path = SavePipeline(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel() });
        var entry = SavedModelReader.Read(path).Single();
        var damaged = Path.Combine(Folder, "damaged.zip");
        using (var copy = SavedModelReader.WithReplacedOnnx(path, new Dictionary<string, byte[]> { [entry.EntryName] = WithSavedInputColumn(entry.Onnx, "Elsewhere") }))
        using (var file = File.Create(damaged))
        {
            copy.CopyTo(file);
        }

        var error = Assert.ThrowsExactly<InvalidDataException>(() => ResNetClassifierTransformer.Load(new MLContext(1), damaged));

        StringAssert.Contains(error.Message, damaged);
        StringAssert.Contains(error.Message, entry.EntryName);
        StringAssert.Contains(error.Message, "'Elsewhere'");
    }

    private string SavePipeline(ResNetClassifierOptions options)
    {
        var ml = new MLContext(1);
        var photos = Photos(ml);
        var model = PixelPipeline(ml, SmallSize).Append(ml.Transforms.ResNetClassify(options)).Fit(photos);
        var path = Path.Combine(Folder, $"{Guid.NewGuid():N}.zip");
        ml.Model.Save(model, photos.Schema, path);
        (model.LastTransformer as IDisposable)?.Dispose();
        return path;
    }

    private static string[] Dimensions(ValueInfoProto value) =>
        value.Type.TensorType.Shape.Dim.Select(d => d.HasDimValue ? $"{d.DimValue}" : d.DimParam).ToArray();

    /// <summary>The saved graph with its scoring settings naming another pixel column than the graph's input.</summary>
    private static byte[] WithSavedInputColumn(byte[] onnx, string column)
    {
        var model = ModelProto.Parser.ParseFrom(onnx);
        var settings = model.MetadataProps.Single(p => p.Key == SavedScoringSettings.MetadataKey);
        var saved = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(settings.Value)!;
        saved[nameof(SavedScoringSettings.InputColumnName)] = JsonSerializer.SerializeToElement(column);
        settings.Value = JsonSerializer.Serialize(saved);
        return model.ToByteArray();
    }
}
