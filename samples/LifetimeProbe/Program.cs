using System.Runtime.InteropServices;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.ResNet;
using Microsoft.ML.ResNet.Native;
using Microsoft.ML.Transforms.Onnx;

// Usage: LifetimeProbe <engines|cursor|race|global-threads> <model.zip>
//        LifetimeProbe global-threads-contract <model.onnx>
//        LifetimeProbe <bottleneck-bfloat16|global-threads-trainer|malloc-policy> <empty folder>
// Each scenario prints one "<scenario>: ..." line per step and ends with "<scenario>: done"; exit code 0 means
// no step crashed or threw unexpectedly. A native crash shows as exit code 139 (SIGSEGV) or 134 (SIGABRT).
if (args.Length != 2)
{
    Console.Error.WriteLine("Usage: LifetimeProbe <engines|cursor|race|global-threads> <model.zip>, LifetimeProbe global-threads-contract <model.onnx>, or LifetimeProbe <bottleneck-bfloat16|global-threads-trainer|malloc-policy> <empty folder>");
    return 2;
}

var ml = new MLContext(1);
var scenario = args[0];
var modelFile = args[1];   // the zip, the ONNX file for global-threads-contract, a folder for the other three
switch (scenario)
{
    case "engines":
        Engines();
        break;
    case "cursor":
        Cursor();
        break;
    case "race":
        Race();
        break;
    case "global-threads":
        GlobalThreads();
        break;
    case "global-threads-contract":
        GlobalThreadsContract();
        break;
    case "global-threads-trainer":
        GlobalThreadsTrainer();
        break;
    case "bottleneck-bfloat16":
        BottleneckBFloat16();
        break;
    case "malloc-policy":
        MallocPolicyRounds();
        break;
    default:
        Console.Error.WriteLine($"Unknown scenario '{scenario}'. Known: engines, cursor, race, global-threads, global-threads-contract, global-threads-trainer, bottleneck-bfloat16, malloc-policy.");
        return 2;
}

Console.WriteLine($"{scenario}: done");
return 0;

// ML.NET asked for global ONNX Runtime thread pools before anything made ONNX Runtime's environment: our loader
// reopens the zip (for a whole pipeline, ML.NET loads the rest of it, with a session of its own, beside ours), then
// stock ML.NET loads it in the environment our first session made.
void GlobalThreads()
{
    ml.SetOnnxSessionOption(new OnnxSessionOptions { PerSessionThreads = false });
    var model = ResNetClassifierTransformer.Load(ml, modelFile);
    Console.WriteLine($"global-threads: loaded {model.GetType().Name}");
    (model as IDisposable)?.Dispose();

    // Then ML.NET's own OnnxTransformer, in the environment our session made.
    var stock = ml.Model.Load(modelFile, out _);
    Console.WriteLine($"global-threads: stock loaded {stock.GetType().Name}");
    (stock as IDisposable)?.Dispose();
}

// The same ask, and the first ONNX Runtime session in the process is the throwaway one our estimator opens to read the
// model's contract (at its first schema check); then ML.NET's OnnxTransformer makes a session of its own.
void GlobalThreadsContract()
{
    ml.SetOnnxSessionOption(new OnnxSessionOptions { PerSessionThreads = false });
    var classify = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { ModelPath = modelFile, FeatureColumnName = "Pixels" });

    // ML.NET's SchemaShape.Create is internal; a CustomMapping's output shape describes a row type publicly. A SchemaShape
    // carries no vector size, so any fixed-size pixel vector passes the estimator's check.
    var pixels = ml.Transforms.CustomMapping<NoInput, PixelShapeRow>((_, _) => { }, contractName: null).GetOutputSchema(new SchemaShape([]));
    var output = classify.GetOutputSchema(pixels);
    Console.WriteLine($"global-threads-contract: our estimator read the contract (outputs {string.Join(", ", output.Select(c => c.Name))})");

    // ML.NET's estimator makes its session as it is made.
    ml.Transforms.ApplyOnnxModel(modelFile);
    Console.WriteLine("global-threads-contract: stock session made");
}

// The same ask, and the first ONNX Runtime session in the process is the one the trainer opens to read its own export's
// contract before it hands back the trained model; then ML.NET's OnnxTransformer makes a session of its own.
void GlobalThreadsTrainer()
{
    ml.SetOnnxSessionOption(new OnnxSessionOptions { PerSessionThreads = false });
    var onnx = Path.Combine(modelFile, "trained.onnx");
    using (var trained = ml.MulticlassClassification.Trainers.ResNet(new ResNetTrainerOptions
    {
        Architecture = ResNetArchitecture.ResNet18,
        ImageHeight = LabelledPixelRow.Size,
        ImageWidth = LabelledPixelRow.Size,
        Epochs = 1,
        BatchSize = 4,
    }).Fit(LabelledRows(rows: 8)))
    {
        trained.SaveOnnx(onnx);
    }

    Console.WriteLine("global-threads-trainer: trained and exported");
    ml.Transforms.ApplyOnnxModel(onnx);
    Console.WriteLine("global-threads-trainer: stock session made");
}

// Rows of random 32x32 pixels with two labels, already keyed.
IDataView LabelledRows(int rows)
{
    var random = new Random(1);
    var labelled = Enumerable.Range(0, rows)
        .Select(i => new LabelledPixelRow { Features = Enumerable.Range(0, LabelledPixelRow.Length).Select(_ => random.NextSingle()).ToArray(), Label = (i % 2).ToString() })
        .ToList();
    return ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(labelled)).Transform(ml.Data.LoadFromEnumerable(labelled));
}

// glibc's malloc with its defaults, then after MallocPolicy.KeepFreedMemory: rounds shaped like a training step's, two
// 20 MB blocks and one of 48 MB allocated, written page by page and freed. 20 MB is above glibc's starting map threshold
// and below the 32 MB it adapts up to, so with the defaults those blocks come from the heap, whose freed top is trimmed
// every round; 48 MB is above any threshold, so that block is mapped and unmapped every round (as a 224x224 step's
// first-stage activations are).
void MallocPolicyRounds()
{
    var before = PageFaultsPerRound();
    var changed = MallocPolicy.KeepFreedMemory();
    var after = PageFaultsPerRound();
    Console.WriteLine($"malloc-policy: changed {changed}, page faults per round {before} with glibc's defaults, {after} after");
}

long PageFaultsPerRound()
{
    const int Rounds = 10;
    const int MegaByte = 1024 * 1024;
    int[] blockBytes = [20 * MegaByte, 20 * MegaByte, 48 * MegaByte];
    void Round()
    {
        // Marshal.AllocHGlobal is malloc on Unix.
        var blocks = blockBytes.Select(bytes => Marshal.AllocHGlobal(bytes)).ToArray();
        for (var i = 0; i < blocks.Length; i++)
        {
            for (var offset = 0; offset < blockBytes[i]; offset += 4096)
            {
                Marshal.WriteByte(blocks[i], offset, 1);
            }
        }

        foreach (var block in blocks)
        {
            Marshal.FreeHGlobal(block);
        }
    }

    Round();
    Round();
    var start = MinorPageFaults();
    for (var i = 0; i < Rounds; i++)
    {
        Round();
    }

    return (MinorPageFaults() - start) / Rounds;
}

// The process's minor page faults: /proc/self/stat's tenth field, the eighth after the command name's closing parenthesis.
static long MinorPageFaults()
{
    var stat = File.ReadAllText("/proc/self/stat");
    return long.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[7], System.Globalization.CultureInfo.InvariantCulture);
}

// ResNet-50's bfloat16 passes on CPU: the frozen backbone's (UseBFloat16, on by default where the CPU computes bfloat16)
// and the mixed-precision step's (TrainInBFloat16). Both run channels-last, where libtorch 2.10's wide 1x1 convolutions
// died with SIGFPE on an AMD EPYC of family 26 (PointwiseConvolution).
void BottleneckBFloat16()
{
    var folder = modelFile;
    var data = LabelledRows(rows: 8);
    ResNetTrainerOptions Options() => new()
    {
        Architecture = ResNetArchitecture.ResNet50,
        ImageHeight = LabelledPixelRow.Size,
        ImageWidth = LabelledPixelRow.Size,
        Epochs = 1,
        BatchSize = 4,
    };

    using (var float32 = ml.MulticlassClassification.Trainers.ResNet(Options()).Fit(data))
    {
        float32.SaveWeights(Path.Combine(folder, "resnet50.safetensors"));
    }

    Console.WriteLine("bottleneck-bfloat16: trained float32 and saved its weights");

    var frozen = Options();
    (frozen.PretrainedWeightsPath, frozen.FreezeBackbone, frozen.UseBFloat16) = (Path.Combine(folder, "resnet50.safetensors"), true, true);
    using (ml.MulticlassClassification.Trainers.ResNet(frozen).Fit(data))
    {
        Console.WriteLine("bottleneck-bfloat16: trained the head on the bfloat16 backbone");
    }

    var mixed = Options();
    mixed.TrainInBFloat16 = true;
    try
    {
        using (ml.MulticlassClassification.Trainers.ResNet(mixed).Fit(data))
        {
            Console.WriteLine("bottleneck-bfloat16: trained in mixed precision");
        }
    }
    catch (InvalidOperationException error) when (error.Message.Contains(nameof(ResNetTrainerOptions.TrainInBFloat16)))
    {
        Console.WriteLine($"bottleneck-bfloat16: mixed precision refused on this CPU ({error.Message})");
    }
}

// Two engines with ML.NET's default options (each owns the transformer); disposing the first must leave the second working.
void Engines()
{
    var transformer = Load();
    var (definition, row) = Rows(transformer, 1)[0];
    var first = ml.Model.CreatePredictionEngine<PixelRow, Prediction>(transformer, inputSchemaDefinition: definition);
    var second = ml.Model.CreatePredictionEngine<PixelRow, Prediction>(transformer, inputSchemaDefinition: definition);
    var before = first.Predict(row).PredictedLabel;
    first.Dispose();
    var after = second.Predict(row).PredictedLabel;
    Console.WriteLine($"engines: second engine after the first was disposed: label {after}, same as before: {after == before}");
    second.Dispose();
    Report("engines: new engine after the last owner was disposed", () => ml.Model.CreatePredictionEngine<PixelRow, Prediction>(transformer, inputSchemaDefinition: definition));
}

// A cursor opened before the transformer is disposed keeps scoring; new cursors and Transform afterwards throw.
void Cursor()
{
    var transformer = Load();
    var data = Data(transformer, 40);
    var view = transformer.Transform(data);
    var cursor = view.GetRowCursor(view.Schema);
    var score = cursor.GetGetter<VBuffer<float>>(view.Schema["Score"]);
    VBuffer<float> value = default;
    cursor.MoveNext();
    transformer.Dispose();
    var rows = 1;
    while (cursor.MoveNext())
    {
        score(ref value);
        rows++;
    }

    cursor.Dispose();
    Console.WriteLine($"cursor: rows scored after the transformer was disposed: {rows}");
    Report("cursor: new cursor on a view made before dispose", () => view.GetRowCursor(view.Schema).Dispose());
    Report("cursor: Transform after dispose", () => transformer.Transform(data));
}

// Engines predicting and a cursor scoring on other threads while the owning engine disposes the transformer.
void Race()
{
    var transformer = Load();
    var (definition, row) = Rows(transformer, 1)[0];
    var owner = ml.Model.CreatePredictionEngine<PixelRow, Prediction>(transformer, inputSchemaDefinition: definition);
    var engine = ml.Model.CreatePredictionEngine<PixelRow, Prediction>(transformer, inputSchemaDefinition: definition);
    var view = transformer.Transform(Data(transformer, 200));
    var started = new CountdownEvent(2);
    var predicted = 0;
    var scored = 0;
    var predictor = new Thread(() =>
    {
        for (var i = 0; i < 30; i++)
        {
            engine.Predict(row);
            predicted++;
            if (i == 0)
            {
                started.Signal();
            }
        }
    });
    var reader = new Thread(() =>
    {
        using var cursor = view.GetRowCursor(view.Schema);
        var getter = cursor.GetGetter<uint>(view.Schema["PredictedLabel"]);
        uint label = 0;
        while (cursor.MoveNext())
        {
            getter(ref label);
            if (scored++ == 0)
            {
                started.Signal();
            }
        }
    });
    predictor.Start();
    reader.Start();
    started.Wait();
    owner.Dispose();
    predictor.Join();
    reader.Join();
    Console.WriteLine($"race: after the owner disposed the transformer mid-run: {predicted} predictions, {scored} rows");

    // Disposing an engine while another thread is inside its Predict: the call finishes or throws, never crashes.
    var last = new Thread(() =>
    {
        try
        {
            for (var i = 0; i < 30; i++)
            {
                engine.Predict(row);
            }
        }
        catch (ObjectDisposedException)
        {
        }
    });
    last.Start();
    Thread.Sleep(50);
    engine.Dispose();
    last.Join();
    Console.WriteLine("race: engine disposed during Predict on another thread: no crash");
}

ResNetClassifierTransformer Load() => (ResNetClassifierTransformer)ResNetClassifierTransformer.Load(ml, modelFile);

IDataView Data(ResNetClassifierTransformer transformer, int count)
{
    var rows = Rows(transformer, count);
    return ml.Data.LoadFromEnumerable(rows.Select(r => r.Row), rows[0].Definition);
}

static (SchemaDefinition Definition, PixelRow Row)[] Rows(ResNetClassifierTransformer transformer, int count)
{
    var size = 3 * transformer.ImageHeight * transformer.ImageWidth;
    var definition = SchemaDefinition.Create(typeof(PixelRow));
    definition[0].ColumnName = transformer.FeatureColumnName;
    definition[0].ColumnType = new VectorDataViewType(NumberDataViewType.Single, size);
    var random = new Random(7);
    return Enumerable.Range(0, count)
        .Select(_ => (definition, new PixelRow { Pixels = Enumerable.Range(0, size).Select(_ => random.NextSingle()).ToArray() }))
        .ToArray();
}

static void Report(string step, Action action)
{
    try
    {
        action();
        Console.WriteLine($"{step}: no exception");
    }
    catch (Exception ex)
    {
        Console.WriteLine($"{step}: {ex.GetType().Name}");
    }
}

internal sealed class PixelRow
{
    public float[] Pixels { get; set; } = [];
}

internal sealed class NoInput
{
}

internal sealed class PixelShapeRow
{
    [VectorType(3)]
    public float[] Pixels { get; set; } = [];
}

internal sealed class Prediction
{
    public uint PredictedLabel { get; set; }
}

internal sealed class LabelledPixelRow
{
    public const int Size = 32;
    public const int Length = 3 * Size * Size;

    [VectorType(Length)]
    public float[] Features { get; set; } = [];

    public string Label { get; set; } = "";
}
