using Microsoft.ML.Data;

namespace Microsoft.ML.ResNet.Tests.Training;

/// <summary>IDataViews for the training tests: the committed Fashion-MNIST subset and small synthetic sets.</summary>
internal static class TrainingData
{
    public const string Features = "Features";
    public const string Label = "Label";

    /// <summary>
    /// A Fashion-MNIST folder (one sub-folder per class) as ML.NET sees user images: loaded, resized to
    /// <paramref name="size"/>, RGB planes scaled to 0..1 in <see cref="Features"/>, and a key-typed <see cref="Label"/>.
    /// </summary>
    public static IDataView LoadImages(MLContext ml, string folder, int size) => LoadImages(ml, folder, size, out _);

    /// <summary>As <see cref="LoadImages(MLContext, string, int)"/>, also giving the fitted pipeline so test data can share its label keys.</summary>
    public static IDataView LoadImages(MLContext ml, string folder, int size, out ITransformer pipeline)
    {
        var data = ImageRows(ml, folder);
        pipeline = ImagePipeline.PixelPipeline(ml, size, Features, nameof(ImageRow.ImagePath))
            .Append(ml.Transforms.Conversion.MapValueToKey(Label))
            .Fit(data);
        return pipeline.Transform(data);
    }

    /// <summary>The image paths and folder-name labels of a class-per-folder tree, in ordinal order.</summary>
    public static IDataView ImageRows(MLContext ml, string folder)
    {
        var rows = Directory.GetDirectories(folder)
            .OrderBy(d => d, StringComparer.Ordinal)
            .SelectMany(d => Directory.GetFiles(d, "*.png").OrderBy(f => f, StringComparer.Ordinal).Select(f => new ImageRow { ImagePath = f, Label = Path.GetFileName(d) }))
            .ToList();
        return ml.Data.LoadFromEnumerable(rows);
    }

    /// <summary>
    /// <paramref name="rows"/> images of <paramref name="size"/>x<paramref name="size"/> in <paramref name="classes"/>
    /// classes, each class a different brightness pattern plus noise, so a network can learn it in a few steps.
    /// </summary>
    public static IDataView Synthetic(MLContext ml, int rows, int classes, int size, int seed = 7, int? pixelCount = null)
    {
        var random = new Random(seed);
        var length = pixelCount ?? 3 * size * size;
        var items = new List<SyntheticRow>(rows);
        for (var i = 0; i < rows; i++)
        {
            var label = i % classes;
            var pixels = new float[length];
            for (var p = 0; p < length; p++)
            {
                var x = p % size;
                var y = p / size % size;
                var signal = ((x / Math.Max(1, size / 4)) + (y / Math.Max(1, size / 4)) + label) % classes == 0 ? 0.8f : 0.2f;
                pixels[p] = Math.Clamp(signal + (float)(random.NextDouble() - 0.5) * 0.2f, 0, 1);
            }

            items.Add(new SyntheticRow { Features = pixels, Label = $"class{label}" });
        }

        var schema = SchemaDefinition.Create(typeof(SyntheticRow));
        schema[nameof(SyntheticRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, length);
        var data = ml.Data.LoadFromEnumerable(items, schema);
        return ml.Transforms.Conversion.MapValueToKey(Label).Fit(data).Transform(data);
    }

    private sealed class ImageRow
    {
        public string ImagePath { get; set; } = string.Empty;

        public string Label { get; set; } = string.Empty;
    }

    private sealed class SyntheticRow
    {
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = string.Empty;
    }
}
