// Use a saved model: the file-based app of notebook 02 (dotnet run samples/apps/use-saved-model.cs). Loads the zip that
// train.cs saved, then scores images one at a time with a PredictionEngine, a whole folder in one Transform, and lists
// the three most likely labels of one image per class and the mistakes. Run train.cs first.
// Usage: dotnet run samples/apps/use-saved-model.cs [-- <model zip> [<folder with one sub-folder per label>]]
//
// The library comes from this repository's project, so the app always runs the code next to it. Outside the
// repository, reference the package instead: #:package ResNetMl@<version> (see the README's "Install").
#:project ../../Microsoft.ML.ResNet/Microsoft.ML.ResNet.csproj
#:package TorchSharp-cpu@0.107.0
#:package Microsoft.ML.OnnxRuntime.Gpu@1.31.0
#:property PublishAot=false

using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.ResNet;

const int ImagesPerLabel = 20;

var appFolder = AppContext.GetData("EntryPointFileDirectoryPath") as string ?? Directory.GetCurrentDirectory();
var modelPath = Path.GetFullPath(args.Length > 0 ? args[0] : Path.Combine(appFolder, "out/fashion-resnet.zip"));
var imagesFolder = Path.GetFullPath(args.Length > 1 ? args[1] : Path.Combine(appFolder, "../../Microsoft.ML.ResNet.Tests/TestData/fashion-mnist/test"));
if (!File.Exists(modelPath))
{
    throw new FileNotFoundException($"No model at {modelPath}: run train.cs first (dotnet run samples/apps/train.cs).", modelPath);
}

// Load: the ResNet step comes back as this library's batched ONNX Runtime transformer (mlContext.Model.Load opens the
// same zip in any ML.NET app, without this library, scoring row by row). The class names are the Score slot names.
var ml = new MLContext();
var model = ResNetClassifierTransformer.Load(ml, modelPath);   // a chain of transformers that owns ONNX Runtime sessions
var outputSchema = model.GetOutputSchema(ml.Data.LoadFromEnumerable(new List<ImageInput>()).Schema);
var slotNames = default(VBuffer<ReadOnlyMemory<char>>);
outputSchema["Score"].GetSlotNames(ref slotNames);
var classNames = slotNames.DenseValues().Select(n => n.ToString()).ToArray();
Console.WriteLine($"Loaded {Path.GetFileName(modelPath)}; classes: {string.Join(", ", classNames)}");

// One image at a time: create the engine once and reuse it (it is not thread-safe). OwnsTransformer = false: the
// model also scores the folder below, and is disposed at the end.
using (var engine = ml.Model.CreatePredictionEngine<ImageInput, ImagePrediction>(model, new PredictionEngineOptions { OwnsTransformer = false }))
{
    var onePath = Directory.GetFiles(Path.Combine(imagesFolder, "Sneaker"), "*.png").Order(StringComparer.Ordinal).First();
    var one = engine.Predict(new ImageInput { ImagePath = onePath });
    Console.WriteLine($"{Path.GetFileName(onePath)} (a sneaker): {one.PredictedLabel}, p = {one.Score.Max():0.000}");
}

// A whole folder at once: Transform streams every image through the pipeline in batches.
var images = Directory.GetDirectories(imagesFolder).Order(StringComparer.Ordinal)
    .SelectMany(folder => Directory.GetFiles(folder, "*.png").Order(StringComparer.Ordinal).Take(ImagesPerLabel)
        .Select(file => new ImageInput { ImagePath = file, Label = Path.GetFileName(folder) }))
    .ToList();
var predictions = ml.Data.CreateEnumerable<ImagePrediction>(model.Transform(ml.Data.LoadFromEnumerable(images)), reuseRowObject: false).ToList();
var actual = images.ToDictionary(i => i.ImagePath, i => i.Label);
var correct = predictions.Count(p => p.PredictedLabel == actual[p.ImagePath]);
Console.WriteLine($"Scored {predictions.Count} images; {correct} right ({(double)correct / predictions.Count:P1}).");

// Top-3 labels of the first image of each class.
Console.WriteLine("Top 3 of one image per class:");
foreach (var prediction in predictions.GroupBy(p => actual[p.ImagePath]).Select(g => g.First()))
{
    var top = prediction.Score.Select((score, index) => (Label: classNames[index], Score: score)).OrderByDescending(s => s.Score).Take(3);
    Console.WriteLine($"  {actual[prediction.ImagePath],-12} {string.Join("   ", top.Select((t, i) => $"{i + 1}. {t.Label} {t.Score:0.00}"))}");
}

// Where it goes wrong.
var mistakes = predictions.Where(p => p.PredictedLabel != actual[p.ImagePath]).ToList();
Console.WriteLine($"{mistakes.Count} mistakes; the first 10:");
foreach (var mistake in mistakes.Take(10))
{
    Console.WriteLine($"  {Path.GetRelativePath(imagesFolder, mistake.ImagePath),-22} actual {actual[mistake.ImagePath],-12} predicted {mistake.PredictedLabel} {mistake.Score.Max():0.00}");
}

(model as IDisposable)?.Dispose();

/// <summary>One image (and, for counting mistakes, its label).</summary>
internal sealed class ImageInput
{
    public string ImagePath { get; set; } = "";

    public string Label { get; set; } = "";
}

/// <summary>What the pipeline adds for one image.</summary>
internal sealed class ImagePrediction
{
    public string ImagePath { get; set; } = "";

    public string PredictedLabel { get; set; } = "";

    public float[] Score { get; set; } = [];
}
