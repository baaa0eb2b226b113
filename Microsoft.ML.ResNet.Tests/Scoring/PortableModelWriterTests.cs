using Google.Protobuf;
using Microsoft.ML.Data;
using Microsoft.ML.ResNet.Scoring;
using Onnx;
using static Microsoft.ML.ResNet.Tests.Scoring.ScoringFixtures;
using static Microsoft.ML.ResNet.Tests.Support.FixtureModels;
using static Microsoft.ML.ResNet.Tests.Support.ImagePipeline;

namespace Microsoft.ML.ResNet.Tests.Scoring;

[TestClass]
public sealed class PortableModelWriterTests : TempFolderTest
{
    [TestMethod]
    public void BuildChain_SavedAndStockLoaded_EqualsTheKMeansChainOnRealPhotos()
    {
        var ml = new MLContext(1);
        var pixels = PhotoPixels(ml, SmallSize);
        var onnx = Rewritten(File.ReadAllBytes(SmallModel()), SmallLabels, withFeatures: false);

        var (fast, old) = FastAndOld(ml, onnx, SmallLabels, pixels);

        AssertSameColumns(old, fast, pixels);
        (fast as IDisposable)?.Dispose();
        (old as IDisposable)?.Dispose();
    }

    [TestMethod]
    public void BuildChain_EveryClassWinningOnce_EqualsTheKMeansChainAndTheArgMax()
    {
        // A graph whose probabilities are the softmax of the first K pixels, fed rows in which each class in
        // turn has the largest pixel, then rows of noise: every key is reached, unlike with real photos on a
        // network with random weights.
        const int classes = 50;
        const int side = 5;
        var ml = new MLContext(1);
        var labels = Enumerable.Range(0, classes).Select(c => $"label {c}").ToArray();
        var random = new Random(3);
        var rows = Enumerable.Range(0, classes + 20).Select(r =>
        {
            var values = Enumerable.Range(0, 3 * side * side).Select(_ => (float)random.NextDouble()).ToArray();
            if (r < classes)
            {
                values[r] = 2f;
            }

            return new PixelRow { Pixels = values };
        }).ToArray();
        var definition = SchemaDefinition.Create(typeof(PixelRow));
        definition[0].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 3 * side * side);
        var pixels = ml.Data.LoadFromEnumerable(rows, definition);
        var onnx = Rewritten(SoftmaxOfFirstPixels(classes, side), labels, withFeatures: false);

        var (fast, old) = FastAndOld(ml, onnx, labels, pixels);

        AssertSameColumns(old, fast, pixels);
        var expected = rows.Select(r => (uint)Array.IndexOf(r.Pixels, r.Pixels.Take(classes).Max()) + 1).ToArray();
        CollectionAssert.AreEqual(expected, Keys(fast.Transform(pixels)), "the argmax of the first K pixels");
        CollectionAssert.IsSubsetOf(Enumerable.Range(1, classes).Select(k => (uint)k).ToArray(), expected, "every class wins once");
        (fast as IDisposable)?.Dispose();
        (old as IDisposable)?.Dispose();
    }

    [TestMethod]
    public void BuildChain_OtherColumnNames_WritesOnlyTheRequestedColumns()
    {
        var ml = new MLContext(1);
        var pixels = PhotoPixels(ml, SmallSize);
        var settings = new SavedScoringSettings("Pixels", "Probabilities", "Guess", "Embedding", BatchSize: 32, RejectAllZeroPixels: false);
        var onnx = Rewritten(File.ReadAllBytes(SmallModel()), SmallLabels, withFeatures: true, settings);

        var loaded = SaveAndLoad(ml, PortableModelWriter.BuildChain(ml, onnx, SmallLabels, 3 * SmallSize * SmallSize, settings), pixels, "named.zip");
        var scored = loaded.Transform(pixels);

        CollectionAssert.AreEqual(
            pixels.Schema.Select(c => c.Name).Concat(["Guess", "Probabilities", "Embedding"]).ToArray(),
            scored.Schema.Where(c => !c.IsHidden).Select(c => c.Name).ToArray());
        Assert.AreEqual(new KeyDataViewType(typeof(uint), SmallLabels.Length), scored.Schema["Guess"].Type);
        CollectionAssert.AreEqual(SmallLabels, KeyValues(scored, "Guess"));
        var expected = Scores(scored, "Probabilities").Select(p => (uint)Array.IndexOf(p, p.Max()) + 1).ToArray();
        CollectionAssert.AreEqual(expected, Keys(scored, "Guess"));
        (loaded as IDisposable)?.Dispose();
    }

    private static readonly SavedScoringSettings DefaultNames = new("Pixels", "Score", "PredictedLabel", FeaturesColumnName: null, BatchSize: 32, RejectAllZeroPixels: false);

    private string Rewritten(byte[] onnx, IReadOnlyList<string> labels, bool withFeatures, SavedScoringSettings? settings = null)
    {
        var path = Path.Combine(Folder, "rewritten.onnx");
        File.WriteAllBytes(path, PortableModelWriter.RewriteGraph(onnx, labels, settings ?? DefaultNames, withFeatures));
        return path;
    }

    private (ITransformer Fast, ITransformer Old) FastAndOld(MLContext ml, string onnx, IReadOnlyList<string> labels, IDataView pixels)
    {
        var pixelCount = ((VectorDataViewType)pixels.Schema["Pixels"].Type).Size;
        var fast = SaveAndLoad(ml, PortableModelWriter.BuildChain(ml, onnx, labels, pixelCount, DefaultNames), pixels, "fast.zip");
        var old = SaveAndLoad(ml, KMeansChainReference.Build(ml, onnx, labels, pixelCount, "Pixels"), pixels, "kmeans.zip");
        return (fast, old);
    }

    private static void AssertSameColumns(ITransformer old, ITransformer fast, IDataView pixels)
    {
        var oldScored = old.Transform(pixels);
        var fastScored = fast.Transform(pixels);
        Assert.AreEqual(0f, MaxDifference(Scores(oldScored), Scores(fastScored)), "Score");
        CollectionAssert.AreEqual(Keys(oldScored), Keys(fastScored), "PredictedLabel");
        Assert.AreEqual(oldScored.Schema["PredictedLabel"].Type, fastScored.Schema["PredictedLabel"].Type);
        Assert.AreEqual(oldScored.Schema["Score"].Type, fastScored.Schema["Score"].Type);
        CollectionAssert.AreEqual(KeyValues(oldScored), KeyValues(fastScored));
        CollectionAssert.AreEqual(
            oldScored.Schema.Where(c => !c.IsHidden).Select(c => c.Name).ToArray(),
            fastScored.Schema.Where(c => !c.IsHidden).Select(c => c.Name).ToArray(),
            "visible columns");
    }

    /// <summary>pixels [N,3,side,side] -> [N,3*side*side] -> the first K values -> softmax as "probabilities".</summary>
    private static byte[] SoftmaxOfFirstPixels(int classes, int side)
    {
        var graph = new GraphProto { Name = "softmax_of_first_pixels" };
        graph.Input.Add(FloatTensor("pixels", 3, side, side));
        graph.Output.Add(FloatTensor("probabilities", classes));
        graph.Initializer.Add(Int64s("flat_shape", 0, -1));
        graph.Initializer.Add(Int64s("starts", 0));
        graph.Initializer.Add(Int64s("ends", classes));
        graph.Initializer.Add(Int64s("axes", 1));
        graph.Node.Add(new NodeProto { OpType = "Reshape", Input = { "pixels", "flat_shape" }, Output = { "flat" } });
        graph.Node.Add(new NodeProto { OpType = "Slice", Input = { "flat", "starts", "ends", "axes" }, Output = { "logits" } });
        var softmax = new NodeProto { OpType = "Softmax", Input = { "logits" }, Output = { "probabilities" } };
        softmax.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
        graph.Node.Add(softmax);
        var model = new ModelProto { IrVersion = 8, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        return model.ToByteArray();
    }

    private static ValueInfoProto FloatTensor(string name, params long[] dimensions)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "N" });
        foreach (var dimension in dimensions)
        {
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = dimension });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }

    private static TensorProto Int64s(string name, params long[] values)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.Add(values.Length);
        tensor.Int64Data.Add(values);
        return tensor;
    }

    private ITransformer SaveAndLoad(MLContext ml, TransformerChain<ITransformer> chain, IDataView pixels, string name)
    {
        var path = Path.Combine(Folder, name);
        ml.Model.Save(chain, pixels.Schema, path);
        chain.Dispose();
        return ml.Model.Load(path, out _);
    }

    private static string[] KeyValues(IDataView scored, string column = "PredictedLabel")
    {
        VBuffer<ReadOnlyMemory<char>> keys = default;
        scored.Schema[column].GetKeyValues(ref keys);
        return keys.DenseValues().Select(k => k.ToString()).ToArray();
    }

    private sealed class PixelRow
    {
        public float[] Pixels { get; set; } = [];
    }
}
