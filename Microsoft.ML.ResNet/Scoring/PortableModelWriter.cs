using System.Diagnostics;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.Transforms.Onnx;
using Onnx;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>
/// Turns a classifier into a chain of ML.NET's own transformers, so that a saved zip loads with
/// <c>mlContext.Model.Load</c> in an application that has never heard of this library:
/// <list type="number">
/// <item>OnnxTransformer on a copy of the ONNX graph whose input is renamed to the pixel column and
/// which gains flattened outputs ([K] and [F] instead of [N,K]: OnnxTransformer runs one row at a time
/// and would otherwise type them Vector&lt;Single, 1, K&gt;), plus the argmax of the probabilities
/// written as B = bits(K - 1) floats of 0 and 1 (<see cref="LabelBitsDecoder"/>);</item>
/// <item>the decoder from those bits to a key: a Naive Bayes model "trained" by counting the K codes,
/// which ML.NET's multiclass scorer turns into PredictedLabel, a Key&lt;UInt32, K&gt; whose key values
/// are our labels;</item>
/// <item>copies and drops to the requested column names.</item>
/// </list>
/// A heat-map column adds one more flattened output, that row's map [h, w] (see <see cref="AddHeatMap"/>).
/// (OnnxTransformer cannot emit the key itself: it fails on rank-0 outputs, and a 1-slot vector
/// cannot be made scalar with built-in transforms; a trained multiclass model is the built-in that
/// yields a scalar key.) Score carries no slot names in this chain.
/// </summary>
internal static class PortableModelWriter
{
    private const string ProbabilitiesTensor = "resnetml_flat_probabilities";
    private const string FeaturesTensor = "resnetml_flat_features";
    private const string LabelBitsTensor = "resnetml_label_bits";
    private const string FlatShape = "resnetml_flat_shape";

    /// <summary>The Einsum node that grafts <see cref="OnnxContract.HeatMapsOutput"/> onto a graph without it, for a heat-map
    /// column; by this name the graft is told apart from the model's own outputs (see <see cref="OnnxContractGraph.Restore"/>).</summary>
    public const string HeatMapGraftNode = "resnetml_heatmaps_graft";

    // The heat-map column's row: the class to show, the maps gathered at it, flattened to [h, w].
    private const string HeatMapTensor = "resnetml_heatmap";
    private const string HeatMapClassTensor = "resnetml_heatmap_class";
    private const string HeatMapRowsTensor = "resnetml_heatmap_rows";
    private const string HeatMapShape = "resnetml_heatmap_shape";

    // Intermediate tensors and constants of the argmax-to-bits nodes.
    private const string ArgMaxTensor = "resnetml_argmax";
    private const string BitPowers = "resnetml_bit_powers";
    private const string Two = "resnetml_two";
    private const string ShiftedTensor = "resnetml_argmax_shifted";
    private const string BitTensor = "resnetml_argmax_bits";
    private const string FloatBitTensor = "resnetml_argmax_bits_float";

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

        foreach (var name in AddedNames)
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
        AddLabelBits(graph, labels.Count);
        if (withFeatures)
        {
            var width = graph.Output.Single(o => o.Name == OnnxContract.FeaturesOutput).Type.TensorType.Shape.Dim[1].DimValue;
            AddFlatOutput(graph, OnnxContract.FeaturesOutput, FeaturesTensor, width);
        }

        if (settings.HeatMapColumnName is not null)
        {
            AddHeatMap(model, labels, settings.HeatMapClass);
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
        var pixels = EmptyVectors(mlContext, settings.InputColumnName, pixelCount);
        var onnx = CheckOnly().Transforms.ApplyOnnxModel(ChainOutputs(settings), [settings.InputColumnName], onnxFile).Fit(pixels);
        var decoder = LabelBitsDecoder.Fit(mlContext, LabelBitsTensor, labels);
        var decoded = decoder.Transform(onnx.Transform(pixels));

        // The decoder writes ML.NET's fixed names: its own Score (log-likelihoods, not ours) goes; its
        // PredictedLabel is the key we want, under the requested name.
        IEstimator<ITransformer> naming = mlContext.Transforms.DropColumns(LabelBitsDecoder.ScoreColumn);
        var temporary = new List<string> { ProbabilitiesTensor, LabelBitsTensor, LabelBitsDecoder.PredictedLabelColumn };
        if (settings.PredictedLabelColumnName != LabelBitsDecoder.PredictedLabelColumn)
        {
            naming = naming.Append(mlContext.Transforms.CopyColumns(settings.PredictedLabelColumnName, LabelBitsDecoder.PredictedLabelColumn));
        }

        naming = naming.Append(mlContext.Transforms.CopyColumns(settings.ScoreColumnName, ProbabilitiesTensor));
        if (settings.FeaturesColumnName is not null)
        {
            naming = naming.Append(mlContext.Transforms.CopyColumns(settings.FeaturesColumnName, FeaturesTensor));
            temporary.Add(FeaturesTensor);
        }

        if (settings.HeatMapColumnName is not null)
        {
            naming = naming.Append(mlContext.Transforms.CopyColumns(settings.HeatMapColumnName, HeatMapTensor));
            temporary.Add(HeatMapTensor);
        }

        var requested = new[] { settings.ScoreColumnName, settings.PredictedLabelColumnName, settings.FeaturesColumnName ?? string.Empty, settings.HeatMapColumnName ?? string.Empty };
        naming = naming.Append(mlContext.Transforms.DropColumns(temporary.Except(requested).ToArray()));

        // Fitting copies and drops reads the schema only: the empty pixel view is never cursored.
        var renamer = naming.Fit(decoded);
        return new TransformerChain<ITransformer>(onnx, decoder, renamer);
    }

    /// <summary>
    /// A graph with the saved graph's input and outputs (names, types, shapes) and nothing inside: constant
    /// outputs. Our loader hands it to ML.NET's loader in place of the network, whose step it replaces anyway,
    /// so ML.NET neither inflates nor stages nor optimizes the network a second time.
    /// </summary>
    /// <param name="settings">The saved columns.</param>
    /// <param name="info">The network's input size, embedding width and heat-map size.</param>
    /// <param name="classes">The label count.</param>
    /// <param name="name">The graph's name: a <see cref="DeferredNetworks"/> marker, when the stub stands for a network in a save.</param>
    public static byte[] Stub(SavedScoringSettings settings, ScoringModelInfo info, int classes, string name = "resnetml_stub")
    {
        var outputs = ChainOutputs(settings).Select(output => FloatTensor(output, null, Dimensions(output)));
        return StubGraph(FloatTensor(settings.InputColumnName, "N", 3, info.Height, info.Width), outputs, name);

        long[] Dimensions(string output) => output switch
        {
            ProbabilitiesTensor => [classes],
            LabelBitsTensor => [LabelBitsDecoder.BitCount(classes)],
            FeaturesTensor => [info.FeatureSize],
            HeatMapTensor => [info.HeatMapHeight, info.HeatMapWidth],
            _ => throw new UnreachableException($"The chain's output '{output}' has no stub shape."),
        };
    }

    /// <summary>The stub of each saved network in <paramref name="entries"/>, by zip entry name, for
    /// <see cref="SavedModelReader.WithReplacedOnnx"/>.</summary>
    /// <exception cref="InvalidDataException">A saved graph does not declare what its stub needs (see <see cref="StubOfSaved"/>).</exception>
    public static Dictionary<string, byte[]> StubsOfSaved(IEnumerable<SavedModelReader.Entry> entries) =>
        entries.ToDictionary(e => e.EntryName, e => StubOfSaved(e.Settings, e.Inputs, e.Outputs, e.Source));

    /// <summary>
    /// The stub for a graph as saved, from its declared input (the pixel column) and outputs alone: our loader reads
    /// those without parsing the weights, so the stub is ready before any ONNX Runtime session is.
    /// </summary>
    /// <param name="settings">The saved columns: which declared input is the pixel column.</param>
    /// <param name="inputs">The saved graph's declared inputs.</param>
    /// <param name="outputs">The saved graph's declared outputs; those the saved chain reads are kept.</param>
    /// <param name="source">The zip entry, for error messages.</param>
    /// <exception cref="InvalidDataException">The saved graph does not declare the pixel input, or declares an output the chain
    /// reads without the fixed sizes <see cref="RewriteGraph"/> gives it. An output the settings name but the graph does not
    /// declare is left out of the stub, not refused: such a zip loads, since the saved chain's own ONNX step names the
    /// outputs it reads.</exception>
    public static byte[] StubOfSaved(SavedScoringSettings settings, IReadOnlyList<ValueInfoProto> inputs, IReadOnlyList<ValueInfoProto> outputs, string source)
    {
        var pixels = inputs.SingleOrDefault(i => i.Name == settings.InputColumnName)
            ?? throw new InvalidDataException($"'{source}' declares no input '{settings.InputColumnName}' (its saved pixel column); inputs: {string.Join(", ", inputs.Select(i => i.Name))}.");
        var carried = ChainOutputs(settings);
        var read = outputs.Where(o => carried.Contains(o.Name)).ToArray();
        foreach (var output in read)
        {
            if (output.Type?.TensorType?.Shape?.Dim is not { Count: > 0 } dimensions || dimensions.Any(d => d.DimValue <= 0))
            {
                throw new InvalidDataException($"'{source}' declares output '{output.Name}' with shape [{output.Type?.TensorType?.Shape?.Dim}]; a saved classifier's outputs for the chain have fixed sizes and no batch.");
            }
        }

        return StubGraph(pixels, read, "resnetml_stub");
    }

    /// <summary>The flattened outputs the chain reads from the graph for <paramref name="settings"/>: the probabilities and the
    /// label bits always, the embedding and the heat map when their columns are saved. The chain, its stub and the stub of a
    /// saved graph all list them from here.</summary>
    private static string[] ChainOutputs(SavedScoringSettings settings) =>
    [
        ProbabilitiesTensor, LabelBitsTensor,
        .. settings.FeaturesColumnName is null ? Array.Empty<string>() : [FeaturesTensor],
        .. settings.HeatMapColumnName is null ? Array.Empty<string>() : [HeatMapTensor],
    ];

    private static byte[] StubGraph(ValueInfoProto input, IEnumerable<ValueInfoProto> outputs, string name)
    {
        var graph = new GraphProto { Name = name };
        graph.Input.Add(input.Clone());
        foreach (var output in outputs)
        {
            AddConstantOutput(graph, output.Name, output.Type.TensorType.Shape.Dim.Select(d => d.DimValue).ToArray());
        }

        var model = new ModelProto { IrVersion = 8, Graph = graph, ProducerName = "resnetml-stub" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = 17 });
        return model.ToByteArray();
    }

    private static void AddConstantOutput(GraphProto graph, string name, long[] dimensions)
    {
        var value = new TensorProto { DataType = (int)TensorProto.Types.DataType.Float };
        value.Dims.Add(dimensions);
        value.FloatData.Add(new float[dimensions.Aggregate(1L, (product, d) => product * d)]);
        var node = new NodeProto { Name = name, OpType = "Constant", Output = { name } };
        node.Attribute.Add(new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = value });
        graph.Node.Add(node);
        graph.Output.Add(FloatTensor(name, null, dimensions));
    }

    private static ValueInfoProto FloatTensor(string name, string? batch, params long[] dimensions)
    {
        var shape = new TensorShapeProto();
        if (batch is not null)
        {
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = batch });
        }

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

    /// <summary>
    /// A context whose ONNX Runtime sessions skip graph optimization: the OnnxTransformer built for saving never
    /// runs, and optimizing ResNet-34 at ORT_ENABLE_ALL costs a quarter to half a second. Session options are
    /// not saved: the loading application's apply.
    /// </summary>
    private static MLContext CheckOnly()
    {
        var context = new MLContext();
        context.SetOnnxSessionOption(new OnnxSessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL });
        return context;
    }

    private static IDataView EmptyVectors(MLContext mlContext, string name, int size) =>
        mlContext.Data.LoadFromEnumerable(Array.Empty<VectorRow>(), VectorDefinition(name, size));

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
        var ours = AddedNames.ToHashSet(StringComparer.Ordinal);
        foreach (var graft in graph.Node.Where(n => n.Name == HeatMapGraftNode))
        {
            ours.UnionWith(graft.Output);
        }

        foreach (var node in graph.Node.Where(n => n.Output.Any(ours.Contains)).ToArray())
        {
            graph.Node.Remove(node);
        }

        foreach (var output in graph.Output.Where(o => ours.Contains(o.Name)).ToArray())
        {
            graph.Output.Remove(output);
        }

        foreach (var initializer in graph.Initializer.Where(t => ours.Contains(t.Name)).ToArray())
        {
            graph.Initializer.Remove(initializer);
        }
    }

    private static IEnumerable<string> AddedNames =>
        [
            ProbabilitiesTensor, FeaturesTensor, LabelBitsTensor, FlatShape, ArgMaxTensor, BitPowers, Two, ShiftedTensor, BitTensor, FloatBitTensor,
            HeatMapTensor, HeatMapClassTensor, HeatMapRowsTensor, HeatMapShape,
        ];

    /// <summary>
    /// argmax -> [N,1] int64; divided by 1, 2, 4, ... and taken mod 2 -> its B bits, lowest first, as
    /// floats; flattened to [B]. ArgMax keeps the first of equal maxima, as our scorer does.
    /// </summary>
    private static void AddLabelBits(GraphProto graph, int classes)
    {
        var bits = LabelBitsDecoder.BitCount(classes);
        var powers = new TensorProto { Name = BitPowers, DataType = (int)TensorProto.Types.DataType.Int64 };
        powers.Dims.Add(bits);
        powers.Int64Data.Add(Enumerable.Range(0, bits).Select(b => 1L << b));
        var two = new TensorProto { Name = Two, DataType = (int)TensorProto.Types.DataType.Int64 };
        two.Int64Data.Add(2);
        graph.Initializer.Add(powers);
        graph.Initializer.Add(two);

        var argMax = new NodeProto { Name = ArgMaxTensor, OpType = "ArgMax", Input = { OnnxContract.ProbabilitiesOutput }, Output = { ArgMaxTensor } };
        argMax.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
        argMax.Attribute.Add(new AttributeProto { Name = "keepdims", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
        var cast = new NodeProto { Name = FloatBitTensor, OpType = "Cast", Input = { BitTensor }, Output = { FloatBitTensor } };
        cast.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = (int)TensorProto.Types.DataType.Float });
        graph.Node.Add(argMax);
        graph.Node.Add(new NodeProto { Name = ShiftedTensor, OpType = "Div", Input = { ArgMaxTensor, BitPowers }, Output = { ShiftedTensor } });
        graph.Node.Add(new NodeProto { Name = BitTensor, OpType = "Mod", Input = { ShiftedTensor, Two }, Output = { BitTensor } });
        graph.Node.Add(cast);
        AddFlatOutput(graph, FloatBitTensor, LabelBitsTensor, bits);
    }

    /// <summary>
    /// The heat-map column's row, [h, w]: the maps gathered at the chosen class, or at the predicted one (the label bits'
    /// ArgMax, so the same class PredictedLabel names). The maps are the graph's own when it has them (exported with
    /// heat maps), else grafted here by <see cref="HeatMapGraftNode"/>; the graft reads the fc weight already in the graph,
    /// so the zip grows by a few nodes, not by weights.
    /// </summary>
    private static void AddHeatMap(ModelProto model, IReadOnlyList<string> labels, string? heatMapClass)
    {
        var graph = model.Graph;
        if (graph.Output.All(o => o.Name != OnnxContract.HeatMapsOutput))
        {
            HeatMapGraph.AddOutput(model, HeatMapGraftNode);
        }

        var dimensions = graph.Output.Single(o => o.Name == OnnxContract.HeatMapsOutput).Type.TensorType.Shape.Dim;
        var (height, width) = (dimensions[2].DimValue, dimensions[3].DimValue);
        if (ResNetScorer.HeatMapClass(labels, heatMapClass) is { } chosen)
        {
            var index = new TensorProto { Name = HeatMapClassTensor, DataType = (int)TensorProto.Types.DataType.Int64 };
            index.Dims.Add(1);
            index.Int64Data.Add(chosen);
            graph.Initializer.Add(index);
        }
        else
        {
            graph.Node.Add(new NodeProto { Name = HeatMapClassTensor, OpType = "Reshape", Input = { ArgMaxTensor, FlatShape }, Output = { HeatMapClassTensor } });
        }

        // [N, 1, h, w] for a chosen class, [N, N, h, w] for the predicted ones: OnnxTransformer reads it with N = 1. The
        // reshape to [-1, w] keeps larger batches (our own session runs the whole graph) valid, if meaningless.
        var gather = new NodeProto { Name = HeatMapRowsTensor, OpType = "Gather", Input = { OnnxContract.HeatMapsOutput, HeatMapClassTensor }, Output = { HeatMapRowsTensor } };
        gather.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
        graph.Node.Add(gather);
        var shape = new TensorProto { Name = HeatMapShape, DataType = (int)TensorProto.Types.DataType.Int64 };
        shape.Dims.Add(2);
        shape.Int64Data.Add([-1, width]);
        graph.Initializer.Add(shape);
        graph.Node.Add(new NodeProto { Name = HeatMapTensor, OpType = "Reshape", Input = { HeatMapRowsTensor, HeatMapShape }, Output = { HeatMapTensor } });
        graph.Output.Add(FloatTensor(HeatMapTensor, null, height, width));
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
        graph.Output.Add(FloatTensor(name, null, width));
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

    private sealed class VectorRow
    {
        public float[] Values { get; set; } = [];
    }
}
