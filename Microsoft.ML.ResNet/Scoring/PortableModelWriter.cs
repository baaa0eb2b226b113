using System.Text.Json;
using Google.Protobuf;
using Microsoft.ML.Data;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.Trainers;
using Onnx;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>
/// Turns a classifier into a chain of ML.NET's own transformers, so that a saved zip loads with
/// <c>mlContext.Model.Load</c> in an application that has never heard of this library:
/// <list type="number">
/// <item>OnnxTransformer on a copy of the ONNX graph whose input is renamed to the pixel column and
/// which gains flattened outputs ([K] and [F] instead of [N,K]: OnnxTransformer runs one row at a time
/// and would otherwise type them Vector&lt;Single, 1, K&gt;);</item>
/// <item>the argmax, which no ML.NET transform computes: a k-means model whose centroids are the K one-hot
/// vectors. For a probability vector p, |p - e_k|^2 = |p|^2 + 1 - 2 p_k, so the nearest centroid is the
/// largest probability, and its PredictedLabel is a Key&lt;UInt32, K&gt; over the clusters;</item>
/// <item>a value mapping from cluster to label string, treated as a key in label order, which gives
/// PredictedLabel our labels as key values; then copies and drops to the requested column names.</item>
/// </list>
/// (OnnxTransformer cannot emit the argmax itself: it fails on rank-0 outputs, and a 1-slot vector
/// cannot be made scalar with built-in transforms.) Score carries no slot names in this chain.
/// </summary>
internal static class PortableModelWriter
{
    private const string ProbabilitiesTensor = "resnetml_flat_probabilities";
    private const string FeaturesTensor = "resnetml_flat_features";
    private const string FlatShape = "resnetml_flat_shape";
    private const string ClusterColumn = "resnetml_cluster";

    // k-means' own output column names (fixed by ML.NET's clustering scorer).
    private const string ClusterScore = "Score";
    private const string ClusterLabel = "PredictedLabel";

    /// <summary>The ONNX bytes as saved: renamed input, flattened outputs, settings and labels in the metadata.</summary>
    public static byte[] RewriteGraph(byte[] onnx, IReadOnlyList<string> labels, SavedScoringSettings settings, bool withFeatures)
    {
        var model = ModelProto.Parser.ParseFrom(onnx);
        var graph = model.Graph;
        RemovePreviousRewrite(graph);
        var inputName = graph.Input.Single(i => graph.Initializer.All(t => t.Name != i.Name)).Name;
        var taken = graph.Node.SelectMany(n => n.Input.Concat(n.Output))
            .Concat(graph.Initializer.Select(t => t.Name))
            .ToHashSet(StringComparer.Ordinal);
        if (settings.InputColumnName != inputName && taken.Contains(settings.InputColumnName))
        {
            throw new InvalidOperationException(
                $"Cannot save: input column '{settings.InputColumnName}' has the name of a tensor inside the ONNX graph, where the saved model needs it as the input's name. Rename the pixel column.");
        }

        foreach (var name in new[] { ProbabilitiesTensor, FeaturesTensor, FlatShape })
        {
            if (taken.Contains(name))
            {
                throw new InvalidOperationException($"Cannot save: the ONNX graph already has a tensor '{name}'; was it saved before? Save the original model.");
            }
        }

        if (settings.InputColumnName != inputName)
        {
            foreach (var node in graph.Node)
            {
                for (var i = 0; i < node.Input.Count; i++)
                {
                    if (node.Input[i] == inputName)
                    {
                        node.Input[i] = settings.InputColumnName;
                    }
                }
            }

            graph.Input.Single(i => i.Name == inputName).Name = settings.InputColumnName;
        }

        var shape = new TensorProto { Name = FlatShape, DataType = (int)TensorProto.Types.DataType.Int64 };
        shape.Dims.Add(1);
        shape.Int64Data.Add(-1);
        graph.Initializer.Add(shape);
        AddFlatOutput(graph, OnnxContract.ProbabilitiesOutput, ProbabilitiesTensor, labels.Count);
        if (withFeatures)
        {
            var width = graph.Output.Single(o => o.Name == OnnxContract.FeaturesOutput).Type.TensorType.Shape.Dim[1].DimValue;
            AddFlatOutput(graph, OnnxContract.FeaturesOutput, FeaturesTensor, width);
        }

        SetMetadata(model, OnnxContract.Metadata.Labels, JsonSerializer.Serialize(labels));
        SetMetadata(model, SavedScoringSettings.MetadataKey, settings.ToJson());
        return model.ToByteArray();
    }

    /// <summary>
    /// The built-in chain for a rewritten graph. It refers to <paramref name="onnxFile"/> (OnnxTransformer
    /// has no byte-array overload): keep the file until the chain is saved and disposed.
    /// </summary>
    public static TransformerChain<ITransformer> BuildChain(MLContext mlContext, string onnxFile, IReadOnlyList<string> labels, int pixelCount, SavedScoringSettings settings)
    {
        var k = labels.Count;
        var outputs = settings.FeaturesColumnName is null ? new[] { ProbabilitiesTensor } : [ProbabilitiesTensor, FeaturesTensor];
        var pixels = EmptyVectors(mlContext, settings.InputColumnName, pixelCount);
        var onnx = mlContext.Transforms.ApplyOnnxModel(outputs, [settings.InputColumnName], onnxFile).Fit(pixels);

        var oneHots = OneHots(mlContext, k);
        var (argmax, clusters) = FitArgMax(oneHots, k);
        var toCluster = mlContext.Transforms.Conversion.ConvertType(ClusterColumn, ClusterLabel, DataKind.UInt32);
        var clustered = argmax.Transform(oneHots);
        var converter = toCluster.Fit(clustered);
        var clusterIds = converter.Transform(clustered).GetColumn<uint>(ClusterColumn).ToArray();

        var pairs = clusterIds.Select((cluster, label) => new KeyValuePair<uint, string>(cluster, labels[label]));
        IEstimator<ITransformer> naming = mlContext.Transforms.DropColumns(ClusterScore, ClusterLabel)
            .Append(mlContext.Transforms.Conversion.MapValue(settings.PredictedLabelColumnName, pairs, ClusterColumn, treatValuesAsKeyType: true))
            .Append(mlContext.Transforms.CopyColumns(settings.ScoreColumnName, ProbabilitiesTensor));
        var temporary = new List<string> { ProbabilitiesTensor, ClusterColumn };
        if (settings.FeaturesColumnName is not null)
        {
            naming = naming.Append(mlContext.Transforms.CopyColumns(settings.FeaturesColumnName, FeaturesTensor));
            temporary.Add(FeaturesTensor);
        }

        naming = naming.Append(mlContext.Transforms.DropColumns(temporary.Except([settings.ScoreColumnName, settings.PredictedLabelColumnName, settings.FeaturesColumnName ?? string.Empty]).ToArray()));
        var withFeatureColumn = settings.FeaturesColumnName is null ? converter.Transform(clustered) : AddEmptyFeatures(mlContext, converter.Transform(clustered));
        var renamer = naming.Fit(withFeatureColumn);
        return new TransformerChain<ITransformer>(onnx, argmax, converter, renamer);
    }

    private static (ITransformer Model, uint[] Clusters) FitArgMax(IDataView oneHots, int k)
    {
        // k-means++ seeding never picks a point twice (its distance to a chosen centroid is 0), so with
        // K distinct points and K clusters every point becomes its own centroid; checked, with retries.
        for (var seed = 1; seed <= 5; seed++)
        {
            var context = new MLContext(seed);
            var trainer = context.Clustering.Trainers.KMeans(new KMeansTrainer.Options
            {
                FeatureColumnName = ProbabilitiesTensor,
                NumberOfClusters = k,
                InitializationAlgorithm = KMeansTrainer.InitializationAlgorithm.KMeansPlusPlus,
                NumberOfThreads = 1,
            });
            var model = trainer.Fit(oneHots);
            var assigned = model.Transform(oneHots).GetColumn<uint>(ClusterLabel).ToArray();
            if (assigned.Distinct().Count() == k)
            {
                return (model, assigned);
            }
        }

        throw new InvalidOperationException($"Could not build the argmax for {k} classes: k-means did not separate the {k} one-hot vectors.");
    }

    private static IDataView OneHots(MLContext mlContext, int k)
    {
        // Sparse rows: k-means then works on one non-zero per point, which makes the seeding O(K^2)
        // instead of O(K^3) (seconds instead of most of a minute for 1000 classes).
        var rows = Enumerable.Range(0, k).Select(i => new SparseRow { Values = new VBuffer<float>(k, 1, [1f], [i]) });
        var definition = SchemaDefinition.Create(typeof(SparseRow));
        definition[0].ColumnName = ProbabilitiesTensor;
        definition[0].ColumnType = new VectorDataViewType(NumberDataViewType.Single, k);
        return mlContext.Data.LoadFromEnumerable(rows, definition);
    }

    private static IDataView EmptyVectors(MLContext mlContext, string name, int size) =>
        mlContext.Data.LoadFromEnumerable(Array.Empty<VectorRow>(), VectorDefinition(name, size));

    private static IDataView AddEmptyFeatures(MLContext mlContext, IDataView data) =>
        mlContext.Transforms.CopyColumns(FeaturesTensor, ProbabilitiesTensor).Fit(data).Transform(data);

    private static SchemaDefinition VectorDefinition(string name, int size)
    {
        var definition = SchemaDefinition.Create(typeof(VectorRow));
        definition[0].ColumnName = name;
        definition[0].ColumnType = new VectorDataViewType(NumberDataViewType.Single, size);
        return definition;
    }

    /// <summary>A transformer reopened from a zip holds an already rewritten graph: undo the additions so
    /// that saving it again gives the same graph as the first save.</summary>
    private static void RemovePreviousRewrite(GraphProto graph)
    {
        var ours = new HashSet<string>(StringComparer.Ordinal) { ProbabilitiesTensor, FeaturesTensor };
        foreach (var node in graph.Node.Where(n => n.Output.Any(ours.Contains)).ToArray())
        {
            graph.Node.Remove(node);
        }

        foreach (var output in graph.Output.Where(o => ours.Contains(o.Name)).ToArray())
        {
            graph.Output.Remove(output);
        }

        foreach (var initializer in graph.Initializer.Where(t => t.Name == FlatShape).ToArray())
        {
            graph.Initializer.Remove(initializer);
        }
    }

    private static void AddFlatOutput(GraphProto graph, string source, string name, long width)
    {
        graph.Node.Add(new NodeProto
        {
            Name = name,
            OpType = "Reshape",
            Input = { source, FlatShape },
            Output = { name },
        });
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = width });
        graph.Output.Add(new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        });
    }

    private static void SetMetadata(ModelProto model, string key, string value)
    {
        var existing = model.MetadataProps.FirstOrDefault(p => p.Key == key);
        if (existing is null)
        {
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        }
        else
        {
            existing.Value = value;
        }
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
