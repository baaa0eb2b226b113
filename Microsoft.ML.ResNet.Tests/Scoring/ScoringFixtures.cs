using System.Security.Cryptography;
using System.Text;
using Microsoft.ML.Data;
using Microsoft.ML.ResNet.Catalog;
using Microsoft.ML.ResNet.Scoring;

namespace Microsoft.ML.ResNet.Tests.Scoring;

/// <summary>
/// What the scoring tests share: reading scores and keys back, comparing them, and the PyTorch-exported reference
/// ResNet-34 (tools/make_scoring_onnx.py, cached under the temp folder by script version and arguments) for the tests
/// that judge our scorer against a graph and numbers that are not ours. Models made by our exporter are in
/// <see cref="FixtureModels"/>; the photos and their pixels in <see cref="ImagePipeline"/>.
/// </summary>
internal static class ScoringFixtures
{
    private static readonly object Gate = new();

    /// <summary>The PyTorch reference ResNet-34 (.pth from <see cref="PythonReference"/>) exported by torch.onnx, 224x224.</summary>
    public static string ReferenceResNet34(PythonReference.Fixture fixture) =>
        Export("--arch", "resnet34", "--pth", fixture.WeightsPath, "--height", "224", "--width", "224", "--features");

    /// <summary>The settings a new MLContext resolves to (the CPU, no global thread pools), for tests that read a model's
    /// contract (<see cref="ScoringModelInfo.Read(byte[], string, ScoringSessionOptions)"/>) without one.</summary>
    public static ScoringSessionOptions DefaultContextSettings => HostSettings.From(new MLContext()).Resolve(gpuDeviceId: null, fallbackToCpu: null, intraOpNumThreads: null);

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

    public sealed class PixelRow
    {
        [VectorType(3 * FixtureModels.SmallSize * FixtureModels.SmallSize)]
        public float[] Pixels { get; set; } = [];
    }

    public sealed class Prediction
    {
        public float[] Score { get; set; } = [];

        public uint PredictedLabel { get; set; }
    }
}
