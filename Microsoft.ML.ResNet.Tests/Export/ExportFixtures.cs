using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Modeling;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Tests.Export;

/// <summary>
/// Real photos, networks with meaningful BatchNorm statistics, and ONNX Runtime runs for the export tests.
/// </summary>
internal static class ExportFixtures
{
    private static readonly float[] Mean = Defaults.ImageNetMean;
    private static readonly float[] Std = Defaults.ImageNetStd;

    /// <summary>The committed photos as [5, 3, 224, 224] RGB in 0..1, decoded by ML.NET's image loader.</summary>
    public static Tensor LoadPhotos()
    {
        var files = Directory.GetFiles(TestPaths.Photos, "*.png").Order(StringComparer.Ordinal).ToList();
        Assert.IsNotEmpty(files, $"no photos in {TestPaths.Photos}");
        var tensors = new List<Tensor>();
        foreach (var file in files)
        {
            using var image = MLImage.CreateFromFile(file);
            var (red, blue) = image.PixelFormat == MLPixelFormat.Rgba32 ? (0, 2) : (2, 0);
            var plane = image.Width * image.Height;
            var chw = new float[3 * plane];
            var pixels = image.Pixels;
            for (var i = 0; i < plane; i++)
            {
                chw[i] = pixels[(4 * i) + red] / 255f;
                chw[plane + i] = pixels[(4 * i) + 1] / 255f;
                chw[(2 * plane) + i] = pixels[(4 * i) + blue] / 255f;
            }

            tensors.Add(tensor(chw, [1, 3, image.Height, image.Width]));
        }

        return cat(tensors, 0);
    }

    /// <summary>The photos and their mirror images, the first <paramref name="batch"/> of them, resized when asked.</summary>
    public static Tensor Batch(Tensor photos, int batch, int height, int width)
    {
        using var scope = NewDisposeScope();
        var all = cat([photos, photos.flip(3)], 0)[..batch];
        if (all.shape[2] != height || all.shape[3] != width)
        {
            all = nn.functional.interpolate(all, [height, width], mode: InterpolationMode.Bilinear, align_corners: false);
        }

        return all.contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// A seeded network whose BatchNorm statistics are measured on the photos (cumulative average, as a
    /// trained network would have) and then perturbed, so folding is exercised on non-trivial values
    /// while activations stay at a realistic scale (as tools/pytorch_reference.py does). Eval mode.
    /// </summary>
    public static ResNetModel CalibratedModel(
        ResNetArchitecture architecture, Tensor photos, int classes = 1000, ResNetVariant variant = ResNetVariant.TorchVision, int seed = 1234, int[]? stageDepths = null)
    {
        manual_seed(seed);
        var model = new ResNetModel(new ResNetSpec(architecture, classes, variant, StageDepths: stageDepths));
        var batchNorms = model.modules().OfType<BatchNorm2d>().ToList();
        using (no_grad())
        using (var scope = NewDisposeScope())
        {
            foreach (var batchNorm in batchNorms)
            {
                batchNorm.momentum = null;
            }

            model.train();
            model.call(Normalize(cat([photos, photos.flip(3)], 0)));
            foreach (var batchNorm in batchNorms)
            {
                var n = batchNorm.num_features;
                batchNorm.running_mean!.add_(randn(n) * 0.05 * batchNorm.running_var!.sqrt());
                batchNorm.running_var!.mul_((rand(n) * 0.6) + 0.7);
                batchNorm.weight!.copy_((rand(n) * 0.6) + 0.4);
                batchNorm.bias!.copy_(randn(n) * 0.1);
            }

            // A trained head gives logits of a few units, so softmax is not near-uniform.
            model.fc.weight!.mul_(8);
        }

        model.eval();
        return model;
    }

    public static Tensor Normalize(Tensor pixels)
    {
        using var scope = NewDisposeScope();
        var mean = tensor(Mean).view(1, 3, 1, 1);
        var std = tensor(Std).view(1, 3, 1, 1);
        return ((pixels - mean) / std).MoveToOuterDisposeScope();
    }

    /// <summary>TorchSharp's logits for un-normalized pixels, in eval mode (the mode is restored after).</summary>
    public static float[] TorchLogits(ResNetModel model, Tensor pixels) => TorchForward(model, pixels, features: false);

    public static float[] TorchFeatures(ResNetModel model, Tensor pixels) => TorchForward(model, pixels, features: true);

    /// <summary>Runs the ONNX model on ONNX Runtime (CPU) and returns the named outputs, flattened.</summary>
    public static Dictionary<string, float[]> RunOnnx(byte[] onnx, Tensor pixels, params string[] outputs)
    {
        using var session = new InferenceSession(onnx);
        return RunOnnx(session, pixels, outputs);
    }

    public static Dictionary<string, float[]> RunOnnx(InferenceSession session, Tensor pixels, params string[] outputs)
    {
        using var runOptions = new RunOptions();
        using var input = OrtValue.CreateTensorValueFromMemory(pixels.contiguous().data<float>().ToArray(), pixels.shape);
        using var results = session.Run(runOptions, [OnnxContract.PixelsInput], [input], outputs);
        return outputs.Zip(results).ToDictionary(p => p.First, p => p.Second.GetTensorDataAsSpan<float>().ToArray());
    }

    public static float MaxAbsDifference(float[] expected, float[] actual)
    {
        Assert.HasCount(expected.Length, actual);
        var max = 0f;
        for (var i = 0; i < expected.Length; i++)
        {
            max = Math.Max(max, Math.Abs(expected[i] - actual[i]));
        }

        return max;
    }

    public static float[] Softmax(float[] logits, int classes)
    {
        var result = new float[logits.Length];
        for (var row = 0; row < logits.Length / classes; row++)
        {
            var slice = logits.AsSpan(row * classes, classes);
            var max = slice.ToArray().Max();
            var sum = 0.0;
            for (var k = 0; k < classes; k++)
            {
                sum += Math.Exp(slice[k] - max);
            }

            for (var k = 0; k < classes; k++)
            {
                result[(row * classes) + k] = (float)(Math.Exp(slice[k] - max) / sum);
            }
        }

        return result;
    }

    private static float[] TorchForward(ResNetModel model, Tensor pixels, bool features)
    {
        var wasTraining = model.training;
        model.eval();
        try
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var normalized = Normalize(pixels);
            var output = features ? model.Features(normalized) : model.call(normalized);
            return output.data<float>().ToArray();
        }
        finally
        {
            model.train(wasTraining);
        }
    }
}
