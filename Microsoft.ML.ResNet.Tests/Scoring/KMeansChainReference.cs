using Microsoft.ML.Data;
using Microsoft.ML.Trainers;

namespace Microsoft.ML.ResNet.Tests.Scoring;

/// <summary>
/// The portable chain as it was saved before the Naive Bayes decoder: OnnxTransformer, then a k-means over the
/// K one-hot vectors as the argmax (about 11 s to fit for 1000 classes), then a value mapping from cluster to
/// label. Kept as the reference the fast chain must equal column for column.
/// </summary>
internal static class KMeansChainReference
{
    private const string ProbabilitiesTensor = "resnetml_flat_probabilities";
    private const string ClusterColumn = "resnetml_cluster";
    private const string ClusterScore = "Score";
    private const string ClusterLabel = "PredictedLabel";

    /// <summary>The old chain over a rewritten graph in <paramref name="onnxFile"/>; Score and PredictedLabel only.</summary>
    public static TransformerChain<ITransformer> Build(MLContext mlContext, string onnxFile, IReadOnlyList<string> labels, int pixelCount, string pixelColumn)
    {
        var k = labels.Count;
        var definition = SchemaDefinition.Create(typeof(VectorRow));
        definition[0].ColumnName = pixelColumn;
        definition[0].ColumnType = new VectorDataViewType(NumberDataViewType.Single, pixelCount);
        var pixels = mlContext.Data.LoadFromEnumerable(Array.Empty<VectorRow>(), definition);
        var onnx = mlContext.Transforms.ApplyOnnxModel([ProbabilitiesTensor], [pixelColumn], onnxFile).Fit(pixels);

        var oneHots = OneHots(mlContext, k);
        var argmax = FitArgMax(oneHots, k);
        var clustered = argmax.Transform(oneHots);
        var converter = mlContext.Transforms.Conversion.ConvertType(ClusterColumn, ClusterLabel, DataKind.UInt32).Fit(clustered);
        var converted = converter.Transform(clustered);
        var clusterIds = converted.GetColumn<uint>(ClusterColumn).ToArray();
        var pairs = clusterIds.Select((cluster, label) => new KeyValuePair<uint, string>(cluster, labels[label]));
        var renamer = mlContext.Transforms.DropColumns(ClusterScore, ClusterLabel)
            .Append(mlContext.Transforms.Conversion.MapValue("PredictedLabel", pairs, ClusterColumn, treatValuesAsKeyType: true))
            .Append(mlContext.Transforms.CopyColumns("Score", ProbabilitiesTensor))
            .Append(mlContext.Transforms.DropColumns(ProbabilitiesTensor, ClusterColumn))
            .Fit(converted);
        return new TransformerChain<ITransformer>(onnx, argmax, converter, renamer);
    }

    private static ITransformer FitArgMax(IDataView oneHots, int k)
    {
        for (var seed = 1; seed <= 5; seed++)
        {
            var trainer = new MLContext(seed).Clustering.Trainers.KMeans(new KMeansTrainer.Options
            {
                FeatureColumnName = ProbabilitiesTensor,
                NumberOfClusters = k,
                InitializationAlgorithm = KMeansTrainer.InitializationAlgorithm.KMeansPlusPlus,
                NumberOfThreads = 1,
            });
            var model = trainer.Fit(oneHots);
            if (model.Transform(oneHots).GetColumn<uint>(ClusterLabel).Distinct().Count() == k)
            {
                return model;
            }
        }

        throw new InvalidOperationException($"k-means did not separate the {k} one-hot vectors.");
    }

    private static IDataView OneHots(MLContext mlContext, int k)
    {
        var rows = Enumerable.Range(0, k).Select(i => new SparseRow { Values = new VBuffer<float>(k, 1, [1f], [i]) });
        var definition = SchemaDefinition.Create(typeof(SparseRow));
        definition[0].ColumnName = ProbabilitiesTensor;
        definition[0].ColumnType = new VectorDataViewType(NumberDataViewType.Single, k);
        return mlContext.Data.LoadFromEnumerable(rows, definition);
    }

    private sealed class SparseRow
    {
        public VBuffer<float> Values { get; set; }
    }

    private sealed class VectorRow
    {
        public float[] Values { get; set; } = [];
    }
}
