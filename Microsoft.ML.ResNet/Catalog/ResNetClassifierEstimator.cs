using Microsoft.ML.ResNet.Catalog;
using Microsoft.ML.ResNet.Scoring;

namespace Microsoft.ML.ResNet;

/// <summary>
/// Scores images with a ResNet classifier. <see cref="Fit"/> trains nothing: it loads the network (an ONNX
/// file exported by this library, or imported weights), checks the input schema and opens the ONNX Runtime
/// session. Create it with <see cref="ResNetCatalog.ResNet34Classify(TransformsCatalog, string, string, string?, IReadOnlyList{string}?, int?, bool, int, int?, int?)"/>
/// or <see cref="ResNetCatalog.ResNetClassify(TransformsCatalog, ResNetClassifierOptions)"/>.
/// </summary>
/// <example>See samples/apps/from-pytorch-weights.cs.</example>
public sealed class ResNetClassifierEstimator : IEstimator<ResNetClassifierTransformer>
{
    private readonly HostSettings _host;
    private readonly ResNetClassifierOptions _options;
    private readonly Lazy<PreparedModel> _model;

    internal ResNetClassifierEstimator(HostSettings host, ResNetClassifierOptions options)
    {
        _host = host;
        _options = options.Clone();
        _options.Validate();

        // PublicationOnly caches no exception: after a failed preparation (a file not there yet) the next call tries
        // again. A rare second preparation on a race costs only the time; the model is plain data.
        _model = new Lazy<PreparedModel>(
            () => ModelPreparer.Prepare(_options, _host.Resolve(_options.GpuDeviceId, _options.FallbackToCpu, _options.IntraOpNumThreads)),
            LazyThreadSafetyMode.PublicationOnly);
    }

    /// <summary>The prepared model, read on first use and kept; a failed preparation is retried on the next use.</summary>
    internal PreparedModel Model => _model.Value;

    private ScoringColumns Columns => new(
        _options.FeatureColumnName, _options.ScoreColumnName, _options.PredictedLabelColumnName, _options.EmbeddingColumnName, _options.ImageColumnName, _options.HeatMapColumnName, _options.HeatMapClass);

    /// <summary>The input schema plus Score, PredictedLabel (and the embedding, the heat map when asked for).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The pixel column is missing or is not a vector of Single.</exception>
    /// <exception cref="ArgumentException"><see cref="ResNetClassifierOptions.HeatMapClass"/> is not one of the model's labels (the message lists them).</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var model = Model;
        var name = _options.FeatureColumnName;
        var found = inputSchema.Where(c => c.Name == name).ToArray();
        if (found.Length == 0)
        {
            throw SchemaErrors.Missing(nameof(inputSchema), "input", name, inputSchema.Select(c => c.Name));
        }

        var column = found[^1];
        if (column.Kind != SchemaShape.Column.VectorKind.Vector || column.ItemType != Data.NumberDataViewType.Single)
        {
            throw SchemaErrors.Pixels(nameof(inputSchema), name, model.Info.Height, model.Info.Width, Describe(column), "The model");
        }

        if (_options.EmbeddingColumnName is not null && !model.Info.HasFeatures)
        {
            throw new InvalidOperationException(
                $"EmbeddingColumnName '{_options.EmbeddingColumnName}' asks for the embedding, but '{_options.ModelPath}' has no 'features' output.");
        }

        if (_options.HeatMapColumnName is not null)
        {
            ResNetScorer.HeatMapClass(model.Labels, _options.HeatMapClass);
        }

        return OutputShape.Build(new MLContext(), inputSchema, model.Labels, model.Info.FeatureSize, Columns);
    }

    private static string Describe(SchemaShape.Column column) => column.Kind switch
    {
        SchemaShape.Column.VectorKind.Scalar => column.ItemType.ToString() ?? "a scalar",
        SchemaShape.Column.VectorKind.Vector => $"Vector<{column.ItemType}>",
        _ => $"Vector<{column.ItemType}> of variable size",
    };

    /// <summary>Opens the session and returns the scoring transformer; reads no rows.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The pixel column is missing or has the wrong size.</exception>
    /// <exception cref="InvalidOperationException">The GPU was asked for, cannot be used, and falling back to the CPU was not allowed.</exception>
    public ResNetClassifierTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var transformer = ResNetClassifierTransformer.Create(_host, Model, Columns, _options);
        try
        {
            transformer.GetOutputSchema(input.Schema);
            return transformer;
        }
        catch
        {
            transformer.Dispose();
            throw;
        }
    }
}
