using System.Security.Cryptography;
using System.Text;
using Microsoft.ML.Data;

namespace Microsoft.ML.ResNet.Tests.Scoring;

/// <summary>
/// ONNX classifiers under our contract for the scoring tests, exported by Debian's PyTorch
/// (tools/make_scoring_onnx.py) and cached under the temp folder by script version and arguments.
/// The scorer is judged against an exporter that is not ours, so an exporter bug cannot hide a scorer bug.
/// </summary>
internal static class ScoringFixtures
{
    public static readonly string[] SmallLabels = ["cat", "dog", "bird", "fish", "frog"];

    public const int SmallSize = 64;

    private static readonly object Gate = new();

    /// <summary>A seeded ResNet-18, 5 classes, 64x64 input, with the features output (~45 MB).</summary>
    public static string SmallModel() =>
        Export("--arch", "resnet18", "--num-classes", "5", "--labels", string.Join(',', SmallLabels),
            "--height", "64", "--width", "64", "--features", "--seed", "7");

    /// <summary>The PyTorch reference ResNet-34 (.pth from <see cref="PythonReference"/>) as ONNX, 224x224.</summary>
    public static string ReferenceResNet34(PythonReference.Fixture fixture) =>
        Export("--arch", "resnet34", "--pth", fixture.WeightsPath, "--height", "224", "--width", "224", "--features");

    /// <summary>The photos as rows of an ImagePath column, in file-name order, repeated <paramref name="times"/>.</summary>
    public static IDataView Photos(MLContext ml, int times = 1) =>
        Paths(ml, Enumerable.Repeat(PhotoPaths(), times).SelectMany(p => p));

    public static string[] PhotoPaths() => Directory.GetFiles(TestPaths.Photos, "*.png").Order(StringComparer.Ordinal).ToArray();

    public static IDataView Paths(MLContext ml, IEnumerable<string> paths) =>
        ml.Data.LoadFromEnumerable(paths.Select(p => new ImageRow { ImagePath = p }).ToArray());

    /// <summary>LoadImages -> ResizeImages -> ExtractPixels(scale 1/255) into "Pixels".</summary>
    public static IEstimator<ITransformer> PixelPipeline(MLContext ml, int size) =>
        ml.Transforms.LoadImages("Image", imageFolder: "", inputColumnName: nameof(ImageRow.ImagePath))
            .Append(ml.Transforms.ResizeImages("Image", size, size))
            .Append(ml.Transforms.ExtractPixels("Pixels", "Image", scaleImage: 1f / 255));

    /// <summary>Pixels of the photos, materialized, so tests can score them several ways.</summary>
    public static IDataView PhotoPixels(MLContext ml, int size, int times = 1)
    {
        var photos = Photos(ml, times);
        var pixels = PixelPipeline(ml, size).Fit(photos).Transform(photos);
        return ml.Data.Cache(ml.Transforms.DropColumns("Image").Fit(pixels).Transform(pixels));
    }

    public static float[][] Scores(IDataView scored, string column = "Score") =>
        scored.GetColumn<float[]>(column).ToArray();

    public static uint[] Keys(IDataView scored, string column = "PredictedLabel") =>
        scored.GetColumn<uint>(column).ToArray();

    public static float MaxDifference(float[][] a, float[][] b)
    {
        Assert.AreEqual(a.Length, b.Length, "row count");
        var max = 0f;
        for (var i = 0; i < a.Length; i++)
        {
            Assert.AreEqual(a[i].Length, b[i].Length, $"row {i} length");
            for (var j = 0; j < a[i].Length; j++)
            {
                max = Math.Max(max, Math.Abs(a[i][j] - b[i][j]));
            }
        }

        return max;
    }

    private static string Export(params string[] arguments)
    {
        lock (Gate)
        {
            PythonReference.RequireModule("onnx");
            PythonReference.RequireModule("torchvision");
            var script = Path.Combine(TestPaths.Tools, "make_scoring_onnx.py");
            var key = Convert.ToHexString(SHA256.HashData(
                File.ReadAllBytes(script).Concat(Encoding.UTF8.GetBytes(string.Join('\n', arguments))).ToArray()))[..16];
            var folder = Path.Combine(Path.GetTempPath(), "resnetml-scoring-fixtures");
            Directory.CreateDirectory(folder);
            var path = Path.Combine(folder, key + ".onnx");
            if (!File.Exists(path))
            {
                var temp = Path.Combine(folder, $"{key}.{Guid.NewGuid():N}.onnx");
                PythonReference.Run([script, .. arguments, "--out", temp]);
                File.Move(temp, path, overwrite: true);
            }

            return path;
        }
    }

    public sealed class ImageRow
    {
        public string ImagePath { get; set; } = "";
    }

    public sealed class PixelRow
    {
        [VectorType(3 * SmallSize * SmallSize)]
        public float[] Pixels { get; set; } = [];
    }

    public sealed class Prediction
    {
        public float[] Score { get; set; } = [];

        public uint PredictedLabel { get; set; }
    }
}
