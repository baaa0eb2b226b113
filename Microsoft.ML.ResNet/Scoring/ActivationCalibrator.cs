using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.ResNet.Export;
using Microsoft.ML.ResNet.Export.Quantization;
using Onnx;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>
/// Measures the activation ranges INT8 quantization needs: runs the FP32 model in ONNX Runtime on the calibration
/// images with every tensor to calibrate added as a graph output. The part of quantization that runs ONNX Runtime,
/// so it lives here with the other sessions; the graph rewriting is in Export/Quantization.
/// </summary>
internal static class ActivationCalibrator
{
    /// <summary>The range of each of <paramref name="tensors"/> over the calibration rows.</summary>
    /// <exception cref="InvalidOperationException">A tensor holds NaN or infinite values, or a single value throughout (named).</exception>
    public static Dictionary<string, ActivationRange> Calibrate(ModelProto fp32, IReadOnlyList<string> tensors, CalibrationPixels pixels, OnnxQuantizationOptions options)
    {
        var probe = fp32.Clone();
        var outputs = probe.Graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var tensor in tensors.Where(t => !outputs.Contains(t)))
        {
            probe.Graph.Output.Add(new ValueInfoProto
            {
                Name = tensor,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
            });
        }

        // Basic optimizations only: they keep every tensor asked for, and the session is created once. No MLContext is at
        // hand here (SaveOnnx is the transformer's, which keeps none), so this session cannot make ONNX Runtime's environment
        // as the MLContext would (OnnxScoringSession.EnsureEnvironment). It need not: its callers calibrate a transformer's
        // network, and that transformer's scoring session made the environment, from its MLContext, when it was created.
        using var sessionOptions = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC, IntraOpNumThreads = Environment.ProcessorCount };
        using var session = new InferenceSession(probe.ToByteArray(), sessionOptions);
        var input = session.InputMetadata.Keys.Single();

        var minima = tensors.ToDictionary(t => t, _ => float.PositiveInfinity, StringComparer.Ordinal);
        var maxima = tensors.ToDictionary(t => t, _ => float.NegativeInfinity, StringComparer.Ordinal);
        ForEachBatch(session, input, tensors, pixels, options.BatchSize, (tensor, values) =>
        {
            var min = minima[tensor];
            var max = maxima[tensor];
            foreach (var value in values)
            {
                if (!float.IsFinite(value))
                {
                    throw new InvalidOperationException(
                        $"Activation '{tensor}' is {value} on a calibration image: the FP32 model itself computes non-finite values (NaN or infinite weights?), so it cannot be quantized.");
                }

                min = Math.Min(min, value);
                max = Math.Max(max, value);
            }

            minima[tensor] = min;
            maxima[tensor] = max;
        });

        foreach (var tensor in tensors.Where(t => !(maxima[t] > minima[t])))
        {
            throw new InvalidOperationException(
                $"Activation '{tensor}' is {minima[tensor]} on every one of the {pixels.Rows} calibration images, so it has no range to quantize: "
                + "calibrate on varied real images (not blank ones), or check the model's weights.");
        }

        if (options.Method == CalibrationMethod.MinMax)
        {
            return tensors.ToDictionary(t => t, t => new ActivationRange(minima[t], maxima[t]), StringComparer.Ordinal);
        }

        // A second pass: the bins need each tensor's full range, which only the first pass knows.
        var histograms = tensors.ToDictionary(t => t, t => new ActivationHistogram(minima[t], maxima[t]), StringComparer.Ordinal);
        ForEachBatch(session, input, tensors, pixels, options.BatchSize, (tensor, values) => histograms[tensor].Add(values));
        return tensors.ToDictionary(t => t, t => histograms[t].Range(options.Percentile), StringComparer.Ordinal);
    }

    private static void ForEachBatch(
        InferenceSession session, string input, IReadOnlyList<string> tensors, CalibrationPixels pixels, int batchSize, Action<string, ReadOnlySpan<float>> observe)
    {
        using var runOptions = new RunOptions();
        for (var start = 0; start < pixels.Rows; start += batchSize)
        {
            var rows = Math.Min(batchSize, pixels.Rows - start);
            var memory = new Memory<float>(pixels.Values, start * pixels.PixelCount, rows * pixels.PixelCount);
            using var value = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, memory, [rows, 3, pixels.Height, pixels.Width]);
            using var results = session.Run(runOptions, [input], [value], tensors.ToArray());
            for (var i = 0; i < tensors.Count; i++)
            {
                observe(tensors[i], results[i].GetTensorDataAsSpan<float>());
            }
        }
    }
}
