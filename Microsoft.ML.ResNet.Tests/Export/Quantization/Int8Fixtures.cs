using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.ResNet.Tests.Training;

namespace Microsoft.ML.ResNet.Tests.Export.Quantization;

/// <summary>
/// One small classifier trained on the committed Fashion-MNIST training split (a ResNet-18 at 32x32, a few epochs),
/// its FP32 and INT8 ONNX files, and the pixel rows of both splits: trained once per test run and shared by the INT8
/// tests, so they together stay within about a minute.
/// </summary>
internal static class Int8Fixtures
{
    public const int Size = 32;

    private static readonly Lazy<Trained> Model = new(Train, LazyThreadSafetyMode.ExecutionAndPublication);

    public static Trained Get() => Model.Value;

    /// <summary>Top-1 class of each row of a bare ONNX Runtime session on <paramref name="onnxPath"/>.</summary>
    public static int[] Predict(string onnxPath, IDataView pixels, out float[][] probabilities)
    {
        var rows = pixels.GetColumn<float[]>(TrainingData.Features).ToArray();
        using var options = new SessionOptions { IntraOpNumThreads = Environment.ProcessorCount };
        using var session = new InferenceSession(onnxPath, options);
        using var runOptions = new RunOptions();
        var result = new List<float[]>();
        foreach (var chunk in rows.Chunk(100))
        {
            using var input = OrtValue.CreateTensorValueFromMemory(chunk.SelectMany(r => r).ToArray(), [chunk.Length, 3, Size, Size]);
            using var outputs = session.Run(runOptions, ["pixels"], [input], ["probabilities"]);
            var flat = outputs[0].GetTensorDataAsSpan<float>().ToArray();
            var classes = flat.Length / chunk.Length;
            result.AddRange(Enumerable.Range(0, chunk.Length).Select(r => flat.AsSpan(r * classes, classes).ToArray()));
        }

        probabilities = [.. result];
        return result.Select(p => Array.IndexOf(p, p.Max())).ToArray();
    }

    private static Trained Train()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.Cache(TrainingData.LoadImages(ml, TestPaths.FashionMnistTrain, Size, out var pipeline));
        var test = ml.Data.Cache(pipeline.Transform(TrainingData.ImageRows(ml, TestPaths.FashionMnistTest)));
        var classifier = ml.MulticlassClassification.Trainers.ResNet(new ResNetTrainerOptions
        {
            Architecture = ResNetArchitecture.ResNet18,
            StageDepths = [1, 1, 1, 1],
            ImageHeight = Size,
            ImageWidth = Size,
            Epochs = 3,
            BatchSize = 32,
            LearningRate = 0.03,
            CacheInMemory = true,
            Seed = 1,
        }).Fit(train);
        var fp32 = FixtureModels.RunFile("fashion-mnist-32.onnx");
        var int8 = FixtureModels.RunFile("fashion-mnist-32.int8.onnx");
        classifier.SaveOnnx(fp32);
        classifier.SaveOnnx(int8, train);
        return new Trained(ml, classifier, train, test, fp32, int8);
    }

    /// <summary>The shared classifier (not to be disposed by tests) and its files.</summary>
    public sealed record Trained(MLContext Ml, ResNetClassifierTransformer Classifier, IDataView Train, IDataView Test, string Fp32Path, string Int8Path);
}
