// Start from PyTorch weights: the file-based app of notebook 03 (dotnet run samples/apps/from-pytorch-weights.cs).
// Makes a torchvision ResNet-18 .pth with Debian's PyTorch (tools/pytorch_reference.py: seeded weights, realistic
// BatchNorm statistics, PyTorch's outputs on five photos), checks that our network computes what PyTorch computes from
// it, fine-tunes it on a folder dataset, exports the result to ONNX and scores that file with ONNX Runtime directly.
// Needs python3-torch and python3-torchvision (apt-get) in Debian's /usr/bin/python3, or RESNETML_PYTHON naming a
// python3 that imports torch and torchvision. Exits 1 if a check fails, 2 if there is no such interpreter.
// Usage: dotnet run samples/apps/from-pytorch-weights.cs. With a real checkpoint (torchvision's resnet18 weights saved
// with torch.save(model.state_dict(), path)), fine-tune from it by pointing PretrainedWeightsPath in step 3 at it.
//
// The library comes from this repository's project, so the app always runs the code next to it. Outside the
// repository, reference the package instead: #:package ResNetMl@<version> (see the README's "Install").
#:project ../../Microsoft.ML.ResNet/Microsoft.ML.ResNet.csproj
#:package TorchSharp-cpu@0.107.0
#:package Microsoft.ML.OnnxRuntime.Gpu@1.31.0
#:property PublishAot=false

using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.ResNet;
using Microsoft.ML.Transforms;

const int ImageSize = 32;
const double ParityTolerance = 1e-4;   // the exporter's contract: ONNX Runtime matches the source network within 1e-4

var appFolder = AppContext.GetData("EntryPointFileDirectoryPath") as string ?? Directory.GetCurrentDirectory();
var repo = Path.GetFullPath(Path.Combine(appFolder, "../.."));
var photosFolder = Path.Combine(repo, "Microsoft.ML.ResNet.Tests/TestData/photos");
var fashionFolder = Path.Combine(repo, "Microsoft.ML.ResNet.Tests/TestData/fashion-mnist");
var pytorchFolder = Path.Combine(appFolder, "out/pytorch");
var pthPath = Path.Combine(pytorchFolder, "resnet18.pth");
var ml = new MLContext(seed: 1);

// 1. The .pth and PyTorch's class probabilities for the five photos.
if (PythonWithTorch() is not { } python)
{
    return 2;
}

MakeReference(python, repo, photosFolder, pytorchFolder);

var reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(pytorchFolder, "resnet18_reference.json"))).RootElement;
var photoNames = reference.GetProperty("images").EnumerateArray().Select(e => e.GetString()!).ToList();
var pytorchProbabilities = reference.GetProperty("probabilities").EnumerateArray()
    .Select(row => row.EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToList();
Console.WriteLine($"{Path.GetFileName(pthPath)}: {new FileInfo(pthPath).Length / 1_000_000.0:0.0} MB, made by torch {reference.GetProperty("torch_version").GetString()}");

// 2. Parity: ResNetClassify reads the .pth (every tensor's name and shape checked), exports it to ONNX in memory and
// scores the photos with ONNX Runtime; PyTorch's probability of each of the 1,000 classes against ours.
var photos = ml.Data.LoadFromEnumerable(photoNames.Select(name => new ImageInput { ImagePath = Path.Combine(photosFolder, name) }));
var classNames = Enumerable.Range(0, 1000).Select(i => $"class{i:000}").ToList();
var fromPth = ml.Transforms.LoadImages("Image", imageFolder: null, nameof(ImageInput.ImagePath))
    .Append(ml.Transforms.ResizeImages("Image", 224, 224))
    .Append(ml.Transforms.ExtractPixels("Features", "Image", scaleImage: 1f / 255))
    .Append(ml.Transforms.ResNetClassify(new ResNetClassifierOptions
    {
        ModelPath = pthPath,
        Architecture = ResNetArchitecture.ResNet18,
        Labels = classNames,
    }))
    .Fit(photos);
var ourProbabilities = fromPth.Transform(photos).GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToList();
(fromPth as IDisposable)?.Dispose();
var parityDifference = ourProbabilities.Zip(pytorchProbabilities, (ours, theirs) => ours.Zip(theirs, (a, b) => Math.Abs(a - b)).Max()).Max();
Console.WriteLine($"PyTorch vs ResNetMl, {photoNames.Count} photos x 1000 classes: largest difference {parityDifference:E2}");
for (var i = 0; i < photoNames.Count; i++)
{
    Console.WriteLine($"  {photoNames[i],-15} PyTorch top class {Array.IndexOf(pytorchProbabilities[i], pytorchProbabilities[i].Max()),4}   ours {Array.IndexOf(ourProbabilities[i], ourProbabilities[i].Max()),4}");
}

// 3. Fine-tune from the .pth on a folder dataset: a fresh 10-class fc, everything else from the file.
var trainData = ml.Data.LoadFromEnumerable(ReadFolder(Path.Combine(fashionFolder, "train"), 50));
var testImages = ReadFolder(Path.Combine(fashionFolder, "test"), 20);
var fineTuned = ml.Transforms.LoadImages("Image", imageFolder: null, nameof(ImageInput.ImagePath))
    .Append(ml.Transforms.ResizeImages("Image", ImageSize, ImageSize))
    .Append(ml.Transforms.ExtractPixels("Features", "Image", scaleImage: 1f / 255))
    .Append(ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue))
    .Append(ml.MulticlassClassification.Trainers.ResNet(new ResNetTrainerOptions
    {
        Architecture = ResNetArchitecture.ResNet18,
        PretrainedWeightsPath = pthPath,
        LabelColumnName = "Label",
        ImageHeight = ImageSize,
        ImageWidth = ImageSize,
        Epochs = 3,
        BatchSize = 50,
        CacheInMemory = true,
        Progress = p =>
        {
            if (p.IsEpochEnd)
            {
                Console.WriteLine($"  epoch {p.Epoch}: loss {p.Loss:0.0000}, train accuracy {p.TrainAccuracy:0.000}");
            }
        },
    }))
    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"))
    .Fit(trainData);
var metrics = ml.MulticlassClassification.Evaluate(fineTuned.Transform(ml.Data.LoadFromEnumerable(testImages)));
Console.WriteLine($"Fine-tuned from the .pth: accuracy (micro) on {testImages.Count} test images {metrics.MicroAccuracy:0.000}");

// 4. Export to ONNX and score eight test images with ONNX Runtime directly, against the pipeline's scores.
var onnxPath = Path.Combine(appFolder, "out/fine-tuned.onnx");
fineTuned.OfType<ResNetClassifierTransformer>().Single().SaveOnnx(onnxPath);
var eight = testImages.Where((_, i) => i % 20 == 0).Take(8).ToList();
var scored = fineTuned.Transform(ml.Data.LoadFromEnumerable(eight));
var pixels = scored.GetColumn<VBuffer<float>>("Features").SelectMany(v => v.DenseValues().ToArray()).ToArray();
var pipelineScores = scored.GetColumn<VBuffer<float>>("Score").SelectMany(v => v.DenseValues().ToArray()).ToArray();
float[] ortScores;
using (var session = new InferenceSession(onnxPath))
using (var input = OrtValue.CreateTensorValueFromMemory(pixels, [eight.Count, 3, ImageSize, ImageSize]))
using (var runOptions = new RunOptions())
using (var outputs = session.Run(runOptions, session.InputNames, [input], ["probabilities"]))
{
    Console.WriteLine($"{Path.GetFileName(onnxPath)}: {new FileInfo(onnxPath).Length / 1_000_000.0:0.0} MB, input {string.Join(", ", session.InputNames)}, outputs {string.Join(", ", session.OutputNames)}");
    ortScores = outputs[0].GetTensorDataAsSpan<float>().ToArray();
}

(fineTuned as IDisposable)?.Dispose();
var exportDifference = ortScores.Zip(pipelineScores, (a, b) => Math.Abs(a - b)).Max();
Console.WriteLine($"ONNX Runtime vs the ML.NET pipeline, {eight.Count} images x {ortScores.Length / eight.Count} classes: largest difference {exportDifference:E2}");

if (parityDifference > ParityTolerance || exportDifference > ParityTolerance)
{
    Console.Error.WriteLine($"FAILED: a difference above {ParityTolerance:E0} (PyTorch parity {parityDifference:E2}, ONNX export {exportDifference:E2}).");
    return 1;
}

return 0;

// RESNETML_PYTHON if set (as for the tests and benchmarks), else Debian's interpreter: python3-torch lives in the system
// interpreter's packages, which a pyenv python3 first on PATH does not see. Null, with the reason on stderr, when that
// interpreter is missing or cannot import torch and torchvision.
static string? PythonWithTorch()
{
    const string Variable = "RESNETML_PYTHON";
    var named = Environment.GetEnvironmentVariable(Variable);
    var python = string.IsNullOrEmpty(named) ? "/usr/bin/python3" : named;
    var which = string.IsNullOrEmpty(named) ? $"Debian's ({Variable} is not set)" : $"named by {Variable}";
    var remedy = string.IsNullOrEmpty(named)
        ? $"apt-get install python3-torch python3-torchvision, or set {Variable} to a python3 that imports torch and torchvision"
        : $"set {Variable} to a python3 that imports torch and torchvision, or unset it for Debian's /usr/bin/python3 (apt-get install python3-torch python3-torchvision)";
    if (!File.Exists(python))
    {
        Console.Error.WriteLine($"No Python interpreter at {python}, {which}: {remedy}.");
        return null;
    }

    using var check = Process.Start(new ProcessStartInfo(python, ["-c", "import torch, torchvision"]) { RedirectStandardError = true })!;
    var error = check.StandardError.ReadToEnd();
    check.WaitForExit();
    if (check.ExitCode != 0)
    {
        Console.Error.WriteLine($"{python}, {which}, cannot import torch and torchvision: {remedy}.\n{error}");
        return null;
    }

    return python;
}

static void MakeReference(string python, string repo, string photosFolder, string pytorchFolder)
{
    Directory.CreateDirectory(pytorchFolder);
    var start = new ProcessStartInfo(python, ["tools/pytorch_reference.py", "--arch", "resnet18", "--photos", photosFolder, "--out", pytorchFolder])
    {
        WorkingDirectory = repo,
        RedirectStandardOutput = true,
        RedirectStandardError = true,
    };
    using var process = Process.Start(start)!;
    var error = process.StandardError.ReadToEndAsync();
    var output = process.StandardOutput.ReadToEnd();
    process.WaitForExit();
    if (process.ExitCode != 0)
    {
        throw new InvalidOperationException($"{python} tools/pytorch_reference.py failed (exit {process.ExitCode}).\n{output}{error.Result}");
    }
}

static List<ImageInput> ReadFolder(string folder, int perLabel) =>
    Directory.GetDirectories(folder).Order(StringComparer.Ordinal)
        .SelectMany(labelFolder => Directory.GetFiles(labelFolder, "*.png").Order(StringComparer.Ordinal).Take(perLabel)
            .Select(file => new ImageInput { ImagePath = file, Label = Path.GetFileName(labelFolder) }))
        .ToList();

/// <summary>One image and, for training, its label.</summary>
internal sealed class ImageInput
{
    public string ImagePath { get; set; } = "";

    public string Label { get; set; } = "";
}
