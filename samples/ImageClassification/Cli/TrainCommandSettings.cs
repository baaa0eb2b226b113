using System.ComponentModel;
using ImageClassification.Commands;
using ImageClassification.Model;
using Microsoft.ML.ResNet;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ImageClassification.Cli;

/// <summary>The options of <c>train</c> (also the default command), and how they pick and adjust the recipe.</summary>
internal sealed class TrainCommandSettings : ImageCommandSettings
{
    // The seed's network pools its 7x7 final maps with a fixed window: 224 / 32 = 7.
    private const int SeedImageSize = 224;
    private const string TorchVisionWiring = "torchvision";
    private const string SeedWiring = "seed";

    [CommandOption("--data <FOLDER>")]
    [Description("labelled images, one sub-folder per label (<data>/<label>/<image>); a folder holding only train/ and test/ is used as already split, otherwise --test-data is the test set or 1 image in 5 of each label is held out (default: the embedded Fashion-MNIST sample)")]
    public string? Data { get; init; }

    [CommandOption("--test-data <FOLDER>")]
    [Description("labelled test images")]
    public string? TestData { get; init; }

    [CommandOption("--from-scratch")]
    [Description("random weights instead of ImageNet's: ResNet-34, 32x32 images, 6 epochs, learning rate 0.03")]
    public bool FromScratch { get; init; }

    [CommandOption("--bf16")]
    [Description("train the learning passes in bfloat16 mixed precision (CPUs with AVX512-BF16 or AMX; the model stays float32)")]
    public bool BFloat16 { get; init; }

    [CommandOption("--weights <FILE>")]
    [Description("start from these weights (.pth, .safetensors, ONNX)")]
    public string? Weights { get; init; }

    [CommandOption("--arch <NAME>")]
    [Description("resnet18 | resnet34 | resnet50 | resnet101 | resnet152 (with --from-scratch or --weights)")]
    public string? Arch { get; init; }

    [CommandOption("--variant <WIRING>")]
    [Description("torchvision | seed: the seed project's ResNet-34 (a projection shortcut on every stage's first block, fixed 7x7 pool), from scratch, 224x224 images only")]
    [DefaultValue(TorchVisionWiring)]
    public string Variant { get; init; } = TorchVisionWiring;

    [CommandOption("--epochs <N>")]
    [Description("passes over the training images (default: fine-tuning, the trainer's choice for the input size: 3 at 112x112, fewer above; 6 from scratch)")]
    [TypeConverter(typeof(IntegerConverter))]
    public int? Epochs { get; init; }

    [CommandOption("--image-size <PIXELS>")]
    [Description("square input size, >= 32 (default: 4x the images' side, 112 to 224, fine-tuning; 32 from scratch)")]
    [TypeConverter(typeof(IntegerConverter))]
    public int? ImageSize { get; init; }

    [CommandOption("--batch-size <N>")]
    [Description("images per step (default 32)")]
    [TypeConverter(typeof(IntegerConverter))]
    public int? BatchSize { get; init; }

    [CommandOption("--learning-rate <LR>")]
    [Description("peak of the one-cycle schedule, the head's when fine-tuning (default: 0.001 fine-tuning, 0.03 from scratch)")]
    [TypeConverter(typeof(NumberConverter))]
    public double? LearningRate { get; init; }

    [CommandOption("--output <FOLDER>")]
    [Description("where model.zip and model.onnx go; epoch checkpoints in <folder>/checkpoints until the model is saved")]
    [DefaultValue(CommandDefaults.OutputFolder)]
    public string Output { get; init; } = CommandDefaults.OutputFolder;

    [CommandOption("--seed <N>")]
    [Description("seeds shuffling and initialization (default 1)")]
    [TypeConverter(typeof(IntegerConverter))]
    public int? Seed { get; init; }

    [CommandOption("--top-k <K>")]
    [Description(CommandDefaults.TopKDescription)]
    [DefaultValue(CommandDefaults.TopK)]
    [TypeConverter(typeof(IntegerConverter))]
    public int TopK { get; init; } = CommandDefaults.TopK;

    /// <summary><c>--variant</c>: torchvision's wiring (the default) or the seed project's.</summary>
    public ResNetVariant Wiring => IsSeedWiring ? ResNetVariant.ProjectionShortcuts : ResNetVariant.TorchVision;

    private bool IsSeedWiring => string.Equals(Variant, SeedWiring, StringComparison.OrdinalIgnoreCase);

    public override ValidationResult Validate() => OptionRules.All(
        ValidateVariant(),
        ValidateArchitecture(),
        OptionRules.InRange("--epochs", Epochs, 1, 1000),
        OptionRules.InRange("--image-size", ImageSize, 32, 1024),
        OptionRules.InRange("--batch-size", BatchSize, 2, 1024),
        OptionRules.Positive("--learning-rate", LearningRate),
        OptionRules.InRange("--seed", Seed, 0),
        OptionRules.InRange("--top-k", TopK, 1, CommandDefaults.MaxTopK),
        ValidateWeights(),
        ValidateSeedImageSize(),
        ValidateBFloat16());

    /// <summary>
    /// The recipe: ImageNet fine-tuning when the featurizer package's network is beside the sample (it is, through the
    /// package reference) and neither <c>--from-scratch</c> nor <c>--weights</c> says otherwise; options override its values.
    /// </summary>
    public TrainSettings ToRecipe()
    {
        // The seed's wiring has no ImageNet weights to fine-tune and its fixed 7x7 pool takes 224x224 images only.
        var defaults = IsSeedWiring || FromScratch || (Weights is null && ResNetTrainerOptions.FeaturizerPackageNetworkPath is null)
            ? TrainSettings.FromScratch
            : TrainSettings.FineTuned;
        return defaults with
        {
            Architecture = ParseArchitecture(Arch) ?? defaults.Architecture,
            Epochs = Epochs ?? defaults.Epochs,
            ImageSize = ImageSize ?? (IsSeedWiring ? SeedImageSize : defaults.ImageSize),
            BatchSize = BatchSize ?? defaults.BatchSize,
            LearningRate = LearningRate ?? defaults.LearningRate,
            WeightsPath = Weights is null ? null : Path.GetFullPath(Weights),
            Seed = Seed ?? defaults.Seed,
            TrainInBFloat16 = BFloat16,
        };
    }

    private ValidationResult ValidateBFloat16() =>
        !BFloat16 || CpuFeatures.HasNativeBFloat16
            ? ValidationResult.Success()
            : ValidationResult.Error($"Option '--bf16' needs a CPU that computes bfloat16 natively (AVX512-BF16 or AMX); this one ({CpuFeatures.ModelName}) has neither.");

    private ValidationResult ValidateVariant() =>
        string.Equals(Variant, TorchVisionWiring, StringComparison.OrdinalIgnoreCase) || IsSeedWiring
            ? ValidationResult.Success()
            : OptionRules.Expected("--variant", $"one of {TorchVisionWiring}, {SeedWiring}", Variant);

    private ValidationResult ValidateArchitecture() =>
        Arch is null || ParseArchitecture(Arch) is not null
            ? ValidationResult.Success()
            : OptionRules.Expected("--arch", $"one of {string.Join(", ", Enum.GetNames<ResNetArchitecture>().Select(n => n.ToLowerInvariant()))}", Arch);

    private ValidationResult ValidateWeights()
    {
        if (Weights is null)
        {
            return ValidationResult.Success();
        }

        if (FromScratch)
        {
            return ValidationResult.Error("Options '--weights' and '--from-scratch' contradict each other: give one.");
        }

        return File.Exists(Weights)
            ? ValidationResult.Success()
            : OptionRules.Expected("--weights", "an existing weights file", Path.GetFullPath(Weights));
    }

    private ValidationResult ValidateSeedImageSize() =>
        IsSeedWiring && ImageSize is { } size && size != SeedImageSize
            ? ValidationResult.Error($"Option '--variant seed' trains on {SeedImageSize}x{SeedImageSize} images only (its fixed 7x7 pool), got '--image-size {size}'.")
            : ValidationResult.Success();

    /// <summary>Accepts "resnet34", "ResNet34", "34"; null for anything else.</summary>
    private static ResNetArchitecture? ParseArchitecture(string? text)
    {
        if (text is null)
        {
            return null;
        }

        var name = text.StartsWith("resnet", StringComparison.OrdinalIgnoreCase) ? text : "ResNet" + text;
        return Enum.TryParse<ResNetArchitecture>(name, ignoreCase: true, out var architecture) && Enum.IsDefined(architecture)
            ? architecture
            : null;
    }
}
