using Microsoft.ML.ResNet.Catalog;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Scoring;
using Microsoft.ML.ResNet.Training;

namespace Microsoft.ML.ResNet;

/// <summary>
/// Trains a ResNet image classifier in TorchSharp (from scratch or from imported weights), exports it to
/// ONNX with the label names, and returns the same scoring transformer as <c>ResNet34Classify</c>.
/// Create it with <see cref="ResNetTrainerCatalog"/>'s <c>ResNet34</c> or <c>ResNet</c> verbs.
/// </summary>
/// <example>See samples/apps/train.cs.</example>
public sealed class ResNetTrainer : IEstimator<ResNetClassifierTransformer>
{
    private readonly HostSettings _host;
    private readonly ResNetTrainerOptions _options;

    internal ResNetTrainer(HostSettings host, ResNetTrainerOptions options)
    {
        _host = host;
        _options = options.Clone();
        TrainerOptionsResolver.Validate(_options);

        // Checked now rather than after hours of training.
        if (_options.Int8CalibrationRows < Defaults.Quantization.MinimumCalibrationRows)
        {
            throw new ArgumentOutOfRangeException(
                nameof(ResNetTrainerOptions.Int8CalibrationRows), _options.Int8CalibrationRows, $"INT8 calibration needs at least {Defaults.Quantization.MinimumCalibrationRows} rows.");
        }

        if (_options.Int8OnnxPath is { } int8Path && Path.GetDirectoryName(Path.GetFullPath(int8Path)) is { } folder && !Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"The folder of Int8OnnxPath '{int8Path}' does not exist.");
        }
    }

    private OnnxQuantizationOptions Int8Options => new() { CalibrationRows = _options.Int8CalibrationRows };

    /// <summary>A copy of the options this trainer uses.</summary>
    public ResNetTrainerOptions Options => _options.Clone();

    /// <summary>
    /// Trains on <paramref name="input"/>, exports the network to ONNX (normalization, labels and input size in
    /// its metadata) and opens it as the scoring transformer: the same type, outputs (Score, PredictedLabel, Embedding)
    /// and save/load as <c>ResNet34Classify</c>. Streams the data once per epoch (or caches it when asked).
    /// </summary>
    /// <param name="input">Training data with the pixel and key-typed label columns.</param>
    /// <remarks>
    /// <para>Process-wide state: libtorch has one random generator and one intra-op thread count per process. Training runs
    /// in one process therefore take turns: a second <c>Fit</c> waits (cancellable through its options' token) until the
    /// first one's training ends, so each gives the weights it would give alone. A CPU run already keeps every core busy,
    /// so taking turns costs no throughput. <see cref="ResNetTrainerOptions.NumberOfThreads"/> is put back afterwards.</para>
    /// <para>Environment: on Linux, the first use of libtorch sets <c>OMP_WAIT_POLICY=PASSIVE</c> in the process's native
    /// environment unless the variable is already set (idle OpenMP threads then sleep instead of spinning: on 2 shared cores a
    /// ResNet-34 step took 1.6-3.6 s spinning and 0.6-0.8 s passive). It applies to every OpenMP library the process loads afterwards; set the variable
    /// yourself (e.g. to ACTIVE) before the first Fit to keep another policy.</para>
    /// <para>Rows that cannot be read or used (an image file gone mid-epoch, a wrong pixel count, a NaN or infinite pixel,
    /// a label outside the key type, an empty image path) stop training with an <see cref="InvalidOperationException"/>
    /// naming the row, its text columns (the image path among them) and the column; the cause is its inner exception.</para>
    /// </remarks>
    /// <returns>The trained classifier; dispose it.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="input"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing, the label is not a key type with at least 2 classes,
    /// or the pixel column is not Vector&lt;Single, 3*H*W&gt; of the configured image size (ParamName "input").</exception>
    /// <exception cref="ArgumentException">Validation data whose label keys differ from the training data's.</exception>
    /// <exception cref="InvalidOperationException">Fewer than 2 labelled rows; the loss became NaN or infinite (the message names
    /// epoch, step and learning rate); a GPU was asked for without CUDA and without fallback; the checkpoint folder holds another run
    /// (other settings, another explicit seed, or more finished epochs than <see cref="ResNetTrainerOptions.Epochs"/>); a row cannot be
    /// read or used (see remarks); Fit was called from inside another Fit's progress callback.</exception>
    /// <exception cref="OperationCanceledException">The options' cancellation token fired; the last checkpoint is intact.</exception>
    /// <exception cref="InvalidOperationException">With <see cref="ResNetTrainerOptions.Int8OnnxPath"/>: the trained network cannot
    /// be quantized (an activation constant or not finite on the calibration rows; the message names it).</exception>
    public ResNetClassifierTransformer Fit(IDataView input)
    {
        using var trained = Train(input);
        var classifier = ToTransformer(trained);
        if (_options.Int8OnnxPath is { } int8Path)
        {
            try
            {
                classifier.SaveOnnx(int8Path, input, Int8Options);
            }
            catch
            {
                classifier.Dispose();
                throw;
            }
        }

        return classifier;
    }

    /// <summary>The input schema plus Score (Vector&lt;Single&gt; with ML.NET's multiclass score annotations), PredictedLabel
    /// (a key) and Embedding (Vector&lt;Single&gt;), under the names the options give.</summary>
    /// <param name="inputSchema">The training data's schema shape.</param>
    /// <returns>The output schema shape.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The pixel column is missing or not a vector of Single, or the label column
    /// is missing or not a key type (ParamName "inputSchema").</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        TrainingSchema.Check(inputSchema, _options);

        // A SchemaShape carries no vector sizes and no key counts (a key column's shape is only "a key of UInt32"), so the
        // class count is not known here and could not be told anyway: the trained model's DataViewSchema has it.
        var embeddingSize = new ResNetSpec(_options.Architecture, NumClasses: 2).FeatureSize;
        return OutputShape.Build(new MLContext(), inputSchema, ["0", "1"], embeddingSize, Columns);
    }

    private ScoringColumns Columns => new(_options.FeatureColumnName, _options.ScoreColumnName, _options.PredictedLabelColumnName, _options.EmbeddingColumnName);

    /// <summary>Exports the trained network and opens the scoring session on the device the trainer was told to use.</summary>
    internal ResNetClassifierTransformer ToTransformer(TrainedClassifier trained)
    {
        var settings = trained.Settings;
        var normalization = new ImageNormalization([.. settings.Mean], [.. settings.Std]);
        var (onnx, weights) = ClassifierOnnx.Export(trained.Model, trained.Labels, normalization, settings.ImageHeight, settings.ImageWidth);
        var info = ScoringModelInfo.Read(onnx, "the trained network's ONNX export", _host.Resolve(_options.GpuDeviceId, _options.FallbackToCpu, intraOpNumThreads: null));
        var prepared = new PreparedModel(onnx, trained.Labels, info, weights);
        var scoring = new ResNetClassifierOptions
        {
            ModelPath = "(trained in memory)",
            Architecture = settings.Architecture,
            StageDepths = settings.StageDepths,
            FeatureColumnName = _options.FeatureColumnName,
            ScoreColumnName = _options.ScoreColumnName,
            PredictedLabelColumnName = _options.PredictedLabelColumnName,
            EmbeddingColumnName = _options.EmbeddingColumnName,
            GpuDeviceId = _options.GpuDeviceId,
            FallbackToCpu = _options.FallbackToCpu,
        };
        return ResNetClassifierTransformer.Create(_host, prepared, Columns, scoring);
    }

    /// <summary>Checks the data, trains and returns the network (not yet exported).</summary>
    internal TrainedClassifier Train(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var labels = TrainingSchema.Check(input.Schema, _options, nameof(input));
        if (_options.ValidationData is { } validationData)
        {
            TrainingSchema.CheckValidation(validationData.Schema, _options, labels);
        }

        var placement = _host.Place(_options.GpuDeviceId, _options.FallbackToCpu);
        return ClassifierTraining.Train(input, labels, _options, placement, _host.NextSeed, _host.Info);
    }
}
