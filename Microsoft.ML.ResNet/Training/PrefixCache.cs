using Microsoft.ML.ResNet.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Training;

/// <summary>
/// The frozen stages' output for every training row, computed once and kept (in bfloat16 when the frozen passes run in
/// it), so that the epochs train the learning stages on it instead of running the frozen stages again every step; the
/// same pass gives the pooled features the head is fitted to. Augmentation moves after the frozen stages: the output of
/// each image and of its mirror image are kept and one is picked per row and epoch, and the random crop becomes a shift
/// of that output by whole cells (the crop padding divided by the stages' stride, rounded), padded with zeros. With a
/// frozen backbone the frozen stages are all five, and only the head trains on the cache; unless the crop shifts it, the
/// cache then holds each map already pooled (float32 [C, 1, 1]; the head pools it again, which leaves it as it is):
/// 2 KB a row instead of 100 KB at 224x224, so the cache's bound admits 49 times the rows.
/// Owns its tensors: dispose it.
/// </summary>
/// <remarks>
/// The frozen stages run in eval mode on weights that never change, so their output for a given input is the same every
/// epoch: computing it once loses nothing but the augmentation in front of it. Rows are shuffled exactly as
/// <see cref="BatchFeeder"/> shuffles its in-memory cache (same seed and epoch), so without augmentation a cached run
/// sees the very batches an uncached one with <see cref="TrainingSettings.CacheInMemory"/> sees.
/// </remarks>
internal sealed class PrefixCache : IDisposable
{
    /// <summary>The most memory the cached outputs (and mirror images) may take; above it training streams as before.</summary>
    public const long MaxBytes = 2L << 30;

    private readonly TrainingSettings _settings;
    private readonly Device _device;
    private readonly Tensor _outputs;
    private readonly Tensor _targets;
    private readonly int _shiftCells;
    private Tensor? _mirrored;

    private PrefixCache(TrainingSettings settings, Device device, Tensor outputs, Tensor targets, Tensor? features)
    {
        _settings = settings;
        _device = device;
        _outputs = outputs;
        _targets = targets;
        Features = features;
        _shiftCells = ShiftCells(settings, outputs.shape[2]);
    }

    /// <summary>The pooled float32 features [rows, features] of the unaugmented rows through the whole network as it was
    /// when the cache was built (eval mode): what the head is fitted to; null when not asked for.</summary>
    public Tensor? Features { get; }

    /// <summary>The rows' class indices [rows], int64.</summary>
    public Tensor Targets => _targets;

    /// <summary>
    /// Whether the cache can replace the frozen stages for <paramref name="settings"/>: some stages are frozen and the rest
    /// learn, or the whole backbone is frozen and only the head learns (<see cref="TrainingSettings.UnchangingStages"/>);
    /// the augmentation can move after them (a shift crop or none); and <paramref name="rows"/> outputs (twice as many
    /// with mirror images) fit <see cref="MaxBytes"/>. Or <see cref="TrainingSettings.CacheFrozenStages"/> says so.
    /// </summary>
    public static bool Applies(ResNetModel model, TrainingSettings settings, long rows, Device device)
    {
        if (settings.UnchangingStages == 0 || settings.CacheFrozenStages == false)
        {
            return false;
        }

        if (settings.CacheFrozenStages == true)
        {
            return true;
        }

        if (settings.Crop == ResNetCropAugmentation.RandomResizedCrop)
        {
            return false;
        }

        // The shape from one black image, in eval mode: in train mode that image would move the BatchNorm statistics.
        using var scope = NewDisposeScope();
        model.eval();
        var shape = model.StagesOutput(zeros([1, 3, settings.ImageHeight, settings.ImageWidth], device: device), settings.UnchangingStages).shape;
        var cellsPerChannel = KeepsPooled(model, settings, shape[2]) ? 1 : shape[2] * shape[3];
        var bytesPerRow = shape[1] * cellsPerChannel * (settings.HorizontalFlip ? 2 : 1) * sizeof(float);
        return rows * bytesPerRow <= MaxBytes;
    }

    /// <summary>
    /// Runs every training row once through the frozen stages (through <paramref name="bfloat16"/> when given) and the
    /// rest of the network in eval mode when <paramref name="withFeatures"/> (for the head's fit), keeping the frozen
    /// stages' output and the pooled features.
    /// </summary>
    public static PrefixCache Build(ResNetModel model, BFloat16Backbone? bfloat16, BatchFeeder training, TrainingSettings settings, Device device, bool withFeatures, CancellationToken cancellation)
    {
        model.eval();
        var outputs = new List<Tensor>();
        var features = new List<Tensor>();
        var targets = new List<Tensor>();
        try
        {
            using (no_grad())
            {
                foreach (var batch in training.ReadEpoch(0, train: false, cancellation))
                {
                    using var scope = NewDisposeScope();
                    var (input, target) = batch.ToTensors(settings.ImageHeight, settings.ImageWidth, device);
                    var output = StagesOutput(model, bfloat16, input, settings.UnchangingStages);
                    if (withFeatures)
                    {
                        features.Add(FeaturesFrom(model, bfloat16, output, settings.UnchangingStages).DetachFromDisposeScope());
                    }

                    outputs.Add(Kept(model, output, settings).DetachFromDisposeScope());
                    targets.Add(target.DetachFromDisposeScope());
                }
            }

            if (outputs.Count == 0)
            {
                throw new InvalidOperationException("The training data has no labelled rows.");
            }

            return new PrefixCache(settings, device, cat(outputs, 0), cat(targets, 0), withFeatures ? cat(features, 0) : null);
        }
        finally
        {
            foreach (var tensor in outputs.Concat(features).Concat(targets))
            {
                tensor.Dispose();
            }
        }
    }

    /// <summary>Adds the frozen stages' output of every row's mirror image, when the settings flip: a second pass over
    /// the training rows, made only once epochs are sure to run.</summary>
    public void AddMirrorImages(ResNetModel model, BFloat16Backbone? bfloat16, BatchFeeder training, CancellationToken cancellation)
    {
        if (!_settings.HorizontalFlip || _mirrored is not null)
        {
            return;
        }

        var mirrored = new List<Tensor>();
        try
        {
            using (no_grad())
            {
                foreach (var batch in training.ReadEpoch(0, train: false, cancellation))
                {
                    using var scope = NewDisposeScope();
                    var (input, _) = batch.ToTensors(_settings.ImageHeight, _settings.ImageWidth, _device);
                    mirrored.Add(Kept(model, StagesOutput(model, bfloat16, input.flip(3), _settings.UnchangingStages), _settings).DetachFromDisposeScope());
                }
            }

            _mirrored = cat(mirrored, 0);
        }
        finally
        {
            foreach (var tensor in mirrored)
            {
                tensor.Dispose();
            }
        }
    }

    /// <summary>
    /// The batches of one epoch: rows in the order <see cref="BatchFeeder"/> gives them for the same epoch, each to be
    /// mirrored and shifted at random, a trailing batch of one row dropped. <see cref="ToTensors"/> makes the tensors, in
    /// the caller's dispose scope.
    /// </summary>
    public IEnumerable<CachedBatch> ReadEpoch(int epoch, CancellationToken cancellation)
    {
        var rows = (int)_targets.shape[0];
        var random = new Random(SeedMixer.Mix(_settings.Seed, epoch, 1));
        var order = Enumerable.Range(0, rows).ToArray();
        random.Shuffle(order);
        for (var start = 0; start + 1 < rows; start += _settings.BatchSize)
        {
            cancellation.ThrowIfCancellationRequested();
            var count = Math.Min(_settings.BatchSize, rows - start);
            var batch = new CachedBatch(new long[count], new bool[count], new int[count], new int[count]);
            for (var i = 0; i < count; i++)
            {
                batch.Rows[i] = order[start + i];
                batch.Mirrored[i] = _mirrored is not null && random.Next(2) == 1;
                if (_shiftCells > 0)
                {
                    batch.ShiftY[i] = random.Next(2 * _shiftCells + 1) - _shiftCells;
                    batch.ShiftX[i] = random.Next(2 * _shiftCells + 1) - _shiftCells;
                }
            }

            yield return batch;
        }
    }

    /// <summary>The batch's float32 frozen-stage outputs [N, C, H, W], augmented, and its targets [N].</summary>
    public (Tensor Input, Tensor Target) ToTensors(CachedBatch batch)
    {
        var inputs = new Tensor[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            inputs[i] = Shift((batch.Mirrored[i] ? _mirrored! : _outputs)[batch.Rows[i]], batch.ShiftY[i], batch.ShiftX[i]);
        }

        var rows = tensor(batch.Rows, ScalarType.Int64, _device);
        return (stack(inputs).to(ScalarType.Float32), _targets.index_select(0, rows));
    }

    /// <summary>The [C, H, W] output moved by (dy, dx) cells, zero-filled where it leaves the map: cell (y, x) of the
    /// result is cell (y + dy, x + dx) of the source, as the pixel crop of <see cref="Augmenter"/> moves pixels.</summary>
    private static Tensor Shift(Tensor output, int dy, int dx)
    {
        if (dy == 0 && dx == 0)
        {
            return output;
        }

        var cells = Math.Max(Math.Abs(dy), Math.Abs(dx));
        var padded = nn.functional.pad(output, [cells, cells, cells, cells]);
        return padded.narrow(1, cells + dy, output.shape[1]).narrow(2, cells + dx, output.shape[2]);
    }

    /// <summary>One batch of cached rows: their indices and each row's augmentation.</summary>
    internal sealed record CachedBatch(long[] Rows, bool[] Mirrored, int[] ShiftY, int[] ShiftX)
    {
        public int Count => Rows.Length;
    }

    /// <summary>Whole cells the crop padding moves a map of <paramref name="mapHeight"/> rows by (the padding divided by
    /// the stages' stride, rounded); 0 without the padded crop.</summary>
    private static int ShiftCells(TrainingSettings settings, long mapHeight) =>
        settings.Crop == ResNetCropAugmentation.RandomCropWithPadding ? (int)Math.Round(settings.CropPadding / ((double)settings.ImageHeight / mapHeight)) : 0;

    /// <summary>Whether rows are kept pooled: every stage is frozen, so the head's global pooling comes first, and no
    /// shift moves cells in or out of the map before it.</summary>
    private static bool KeepsPooled(ResNetModel model, TrainingSettings settings, long mapHeight) =>
        settings.UnchangingStages == ResNetModel.StageModules.Count && model.PoolsWholeMap && ShiftCells(settings, mapHeight) == 0;

    /// <summary>What the cache keeps of a batch's stage output: the output, or its float32 average per channel.</summary>
    private static Tensor Kept(ResNetModel model, Tensor output, TrainingSettings settings) =>
        KeepsPooled(model, settings, output.shape[2]) ? nn.functional.adaptive_avg_pool2d(output.to(ScalarType.Float32), [1, 1]) : output;

    private static Tensor StagesOutput(ResNetModel model, BFloat16Backbone? bfloat16, Tensor input, int count) =>
        bfloat16?.StagesOutputInBFloat16(input, count) ?? model.StagesOutput(input, count);

    private static Tensor FeaturesFrom(ResNetModel model, BFloat16Backbone? bfloat16, Tensor output, int firstStage) =>
        bfloat16?.FeaturesFrom(output, firstStage) ?? model.FeaturesFrom(output, firstStage);

    public void Dispose()
    {
        _outputs.Dispose();
        _mirrored?.Dispose();
        _targets.Dispose();
        Features?.Dispose();
    }
}
