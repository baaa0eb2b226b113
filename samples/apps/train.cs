// Train an image classifier on a folder of images: the file-based app of notebook 01 (dotnet run samples/apps/train.cs).
// A ResNet-34 trained from random weights, then the same data from ImageNet weights, both evaluated on the test images;
// the first model is saved for use-saved-model.cs. Usage: dotnet run samples/apps/train.cs [-- <data folder>]
// (a folder with train/ and test/, one sub-folder per label; default: the repository's Fashion-MNIST sample).
//
// The library comes from this repository's project, so the app always runs the code next to it. Outside the
// repository, reference the package instead: #:package ResNetMl@<version> (see the README's "Install").
#:project ../../Microsoft.ML.ResNet/Microsoft.ML.ResNet.csproj
#:package TorchSharp-cpu@0.107.0
#:package Microsoft.ML.OnnxRuntime.Gpu@1.31.0
#:package Microsoft.ML.DnnImageFeaturizer.ResNet18@0.23.1
#:property PublishAot=false

using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.ResNet;
using Microsoft.ML.Transforms;

const int ImageSize = 32;         // the smallest input a ResNet takes; Fashion-MNIST is 28x28
const int Epochs = 4;
const int ImagesPerLabel = 100;   // of the 200 per label (notebook 01 takes 150: the app keeps CI quick); 10 of the rest validate
const int FineTuneSize = 64;      // ImageNet features like larger images; 64 keeps it quick
const int FineTuneEpochs = 3;     // after the head is fitted to the frozen features

var appFolder = AppContext.GetData("EntryPointFileDirectoryPath") as string ?? Directory.GetCurrentDirectory();
var dataFolder = Path.GetFullPath(args.Length > 0 ? args[0] : Path.Combine(appFolder, "../../Microsoft.ML.ResNet.Tests/TestData/fashion-mnist"));
var outputFolder = Path.Combine(appFolder, "out");
Directory.CreateDirectory(outputFolder);

// 1. Data: every sub-folder is a label.
var trainImages = ImageFolder.Read(Path.Combine(dataFolder, "train"), ImagesPerLabel);
var validationImages = ImageFolder.Read(Path.Combine(dataFolder, "train"), 10, skip: ImagesPerLabel);
var testImages = ImageFolder.Read(Path.Combine(dataFolder, "test"), 100);
Console.WriteLine($"Data: {trainImages.Count} training, {validationImages.Count} validation, {testImages.Count} test images, " +
    $"{trainImages.Select(i => i.Label).Distinct().Count()} labels, from {dataFolder}");

// 2. Train: image path -> image -> 32x32 -> RGB planes in 0..1; label text -> key (alphabetical, so keys match folder order).
var ml = new MLContext(seed: 1);
var trainData = ml.Data.LoadFromEnumerable(trainImages);
var testData = ml.Data.LoadFromEnumerable(testImages);
var preprocessing = ml.Transforms.LoadImages("Image", imageFolder: null, nameof(ImageInput.ImagePath))
    .Append(ml.Transforms.ResizeImages("Image", ImageSize, ImageSize))
    .Append(ml.Transforms.ExtractPixels("Features", "Image", scaleImage: 1f / 255))
    .Append(ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue));
var validationData = preprocessing.Fit(trainData).Transform(ml.Data.LoadFromEnumerable(validationImages));

Console.WriteLine($"Training a ResNet-34 for {Epochs} epochs on {ImageSize}x{ImageSize} images:");
var trainer = ml.MulticlassClassification.Trainers.ResNet34(new ResNetTrainerOptions
{
    LabelColumnName = "Label",
    ImageHeight = ImageSize,
    ImageWidth = ImageSize,
    Epochs = Epochs,
    BatchSize = 32,
    CacheInMemory = true,           // small images: keep the pixels instead of decoding every epoch
    ValidationData = validationData,
    Progress = p =>
    {
        if (p.IsEpochEnd)
        {
            Console.WriteLine($"  epoch {p.Epoch}: loss {p.Loss:0.0000}, train accuracy {p.TrainAccuracy:0.000}, validation accuracy {p.ValidationAccuracy:0.000}");
        }
    },
});
var model = preprocessing.Append(trainer)
    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"))   // the predicted key back to its label text
    .Fit(trainData);

// 3. Evaluate on the held-out test images.
var metrics = ml.MulticlassClassification.Evaluate(model.Transform(testData), "Label", "Score", "PredictedLabel", topKPredictionCount: 3);
Console.WriteLine($"Accuracy (micro): {metrics.MicroAccuracy:0.0000}");
Console.WriteLine($"Accuracy (macro): {metrics.MacroAccuracy:0.0000}");
Console.WriteLine($"Log-loss: {metrics.LogLoss:0.0000}");
Console.WriteLine($"Top-3 accuracy: {metrics.TopKAccuracy:0.0000}");
Console.WriteLine(metrics.ConfusionMatrix.GetFormattedConfusionTable());

// 3b. The same data from ImageNet weights: the network of the Microsoft.ML.DnnImageFeaturizer.ResNet18 package
// (referenced above; the trainer finds it beside the app), a head fitted to its features, then fine-tuning with the
// stem, layer1 and layer2 frozen.
Console.WriteLine($"Fine-tuning ImageNet weights for {FineTuneEpochs} epochs on {FineTuneSize}x{FineTuneSize} images:");
var fineTuned = ml.Transforms.LoadImages("Image", imageFolder: null, nameof(ImageInput.ImagePath))
    .Append(ml.Transforms.ResizeImages("Image", FineTuneSize, FineTuneSize))
    .Append(ml.Transforms.ExtractPixels("Features", "Image", scaleImage: 1f / 255))
    .Append(ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue))
    .Append(ml.MulticlassClassification.Trainers.ResNet(new ResNetTrainerOptions
    {
        LabelColumnName = "Label",
        ImageHeight = FineTuneSize,
        ImageWidth = FineTuneSize,
        Epochs = FineTuneEpochs,
        StartingWeights = ResNetStartingWeights.ImageNet,
        FrozenStages = 3,
        CacheInMemory = true,
    }))
    .Fit(trainData);
var fineTunedMetrics = ml.MulticlassClassification.Evaluate(fineTuned.Transform(testData), "Label", "Score", "PredictedLabel");
Console.WriteLine($"{"start",-17} {"network",-15} {"size",-6} {"epochs",6} {"accuracy",9}");
Console.WriteLine($"{"random weights",-17} {"ResNet-34",-15} {$"{ImageSize}x{ImageSize}",-6} {Epochs,6} {metrics.MicroAccuracy,9:0.0000}");
Console.WriteLine($"{"ImageNet weights",-17} {"ResNet 2/2/2/3",-15} {$"{FineTuneSize}x{FineTuneSize}",-6} {FineTuneEpochs,6} {fineTunedMetrics.MicroAccuracy,9:0.0000}");

// 4. Save the whole pipeline, image loading included, as one zip: use-saved-model.cs loads it.
var modelPath = Path.Combine(outputFolder, "fashion-resnet.zip");
ml.Model.Save(model, trainData.Schema, modelPath);
Console.WriteLine($"Saved {modelPath} ({new FileInfo(modelPath).Length / 1_000_000.0:0.0} MB)");

/// <summary>One image and its label, as the pipeline reads them.</summary>
internal sealed class ImageInput
{
    public string ImagePath { get; set; } = "";

    public string Label { get; set; } = "";
}

/// <summary>Reads a folder with one sub-folder per label.</summary>
internal static class ImageFolder
{
    /// <summary>The first <paramref name="perLabel"/> images of every label after <paramref name="skip"/>, in name order.</summary>
    public static List<ImageInput> Read(string folder, int perLabel, int skip = 0)
    {
        if (!Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"No image folder at {folder}: expected one sub-folder per label.");
        }

        return Directory.GetDirectories(folder).Order(StringComparer.Ordinal)
            .SelectMany(labelFolder => Directory.GetFiles(labelFolder, "*.png").Order(StringComparer.Ordinal).Skip(skip).Take(perLabel)
                .Select(file => new ImageInput { ImagePath = file, Label = Path.GetFileName(labelFolder) }))
            .ToList();
    }
}
