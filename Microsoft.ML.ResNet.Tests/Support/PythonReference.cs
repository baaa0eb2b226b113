using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.ML.ResNet.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Tests.Support;

/// <summary>
/// Runs Debian's PyTorch (tools/pytorch_reference.py) to make reference weights and logits, once per
/// architecture and script version, cached under the temp folder. PyTorch is the independent judge
/// of our parity claims, so nothing here is faked: without it the calling test is inconclusive.
/// </summary>
internal static class PythonReference
{
    /// <summary>Names the interpreter instead of Debian's; pointing it at a missing file shows what runs without Python.</summary>
    public const string PythonVariable = "RESNETML_PYTHON";

    /// <summary>
    /// Debian's interpreter unless <see cref="PythonVariable"/> names another: the pyenv <c>python3</c> first on PATH
    /// does not see python3-torch.
    /// </summary>
    public static string Python { get; } = Environment.GetEnvironmentVariable(PythonVariable) is { Length: > 0 } python ? python : "/usr/bin/python3";

    private static readonly object Gate = new();

    // The interpreter does not change during a run: each module's import is tried once, so a test may check for PyTorch
    // before its arrange and again inside a helper without starting Python twice.
    private static readonly ConcurrentDictionary<string, bool> Importable = new(StringComparer.Ordinal);

    /// <summary>What the fixture script wrote for one architecture.</summary>
    public sealed record Fixture(string WeightsPath, string InputPath, ReferenceOutputs Outputs)
    {
        /// <summary>The same network exported by <c>torch.onnx.export</c> (only when asked for with exportOnnx).</summary>
        public string OnnxPath => Path.ChangeExtension(WeightsPath, null) + "_torch.onnx";

        /// <summary>The input images as the script wrote them: float32 NCHW pixels, 0 to 1, not normalized.</summary>
        public float[] ReadInput()
        {
            var bytes = File.ReadAllBytes(InputPath);
            var values = new float[bytes.Length / sizeof(float)];
            Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
            return values;
        }

        /// <summary>max |logits of <paramref name="model"/> - PyTorch's logits| over the input images, normalized as PyTorch did.</summary>
        public float MaxLogitDifference(ResNetModel model)
        {
            var values = ReadInput();
            var images = Outputs.Images.Length;
            var side = (int)Math.Sqrt(values.Length / (3 * images));
            using var pixels = tensor(values).view(images, 3, side, side);
            using var mean = tensor(Outputs.Mean).view(1, 3, 1, 1);
            using var std = tensor(Outputs.Std).view(1, 3, 1, 1);
            using var noGrad = no_grad();
            using var logits = model.call((pixels - mean) / std);
            using var expected = tensor(Outputs.Logits.SelectMany(row => row).ToArray()).view(logits.shape);
            return (logits - expected).abs().max().item<float>();
        }
    }

    public sealed record ReferenceOutputs(
        string Arch,
        int Num_classes,
        string[] Images,
        float[] Mean,
        float[] Std,
        float[][] Logits,
        float[][] Probabilities);

    /// <summary>Makes (or reuses) the fixture; marks the test inconclusive when PyTorch is absent.</summary>
    /// <param name="arch">resnet18, resnet34 or resnet50.</param>
    /// <param name="exportOnnx">Also export the network with torch.onnx (into a folder of its own, see <see cref="Fixture.OnnxPath"/>).</param>
    public static Fixture Get(string arch = "resnet34", bool exportOnnx = false)
    {
        lock (Gate)
        {
            RequireModule("torchvision");
            var script = Path.Combine(TestPaths.Tools, "pytorch_reference.py");
            var key = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(script)))[..12];
            var folder = Path.Combine(Path.GetTempPath(), "resnetml-pytorch-reference", exportOnnx ? key + "-onnx" : key);
            var referencePath = Path.Combine(folder, $"{arch}_reference.json");
            var onnxPath = Path.Combine(folder, $"{arch}_torch.onnx");
            if (!File.Exists(referencePath) || (exportOnnx && !File.Exists(onnxPath)))
            {
                if (exportOnnx)
                {
                    RequireModule("onnx");
                    Run(script, "--arch", arch, "--photos", TestPaths.Photos, "--out", folder, "--export-onnx");
                }
                else
                {
                    Run(script, "--arch", arch, "--photos", TestPaths.Photos, "--out", folder);
                }
            }

            var outputs = JsonSerializer.Deserialize<ReferenceOutputs>(
                File.ReadAllText(referencePath),
                new JsonSerializerOptions { PropertyNameCaseInsensitive = true })!;
            return new Fixture(Path.Combine(folder, $"{arch}.pth"), Path.Combine(folder, $"{arch}_input.bin"), outputs);
        }
    }

    /// <summary>Marks the test inconclusive, saying why, when Debian's Python lacks <paramref name="module"/>.</summary>
    public static void RequireModule(string module)
    {
        if (!Importable.GetOrAdd(module, m => File.Exists(Python) && Run("-c", $"import {m}", throwOnError: false) == 0))
        {
            Assert.Inconclusive($"{Python} cannot import {module}: apt-get install python3-torch python3-torchvision python3-onnx (.ci/run does), or name an interpreter that has them in {PythonVariable}.");
        }
    }

    /// <summary>
    /// onnx.checker's full check (tools/onnx_check.py) on each file: the format's own judge, so it needs Python's onnx
    /// package; marks the test inconclusive without it, throws with the checker's output when a file fails.
    /// </summary>
    public static void CheckOnnx(params string[] paths)
    {
        RequireModule("onnx");
        Run([Path.Combine(TestPaths.Tools, "onnx_check.py"), .. paths]);
    }

    /// <summary>Runs a Python script or command; throws with its output when it fails.</summary>
    public static int Run(params string[] arguments) => Run(arguments, throwOnError: true);

    private static int Run(string first, string second, bool throwOnError) => Run([first, second], throwOnError);

    private static int Run(string[] arguments, bool throwOnError)
    {
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0 && throwOnError)
        {
            throw new InvalidOperationException($"{Python} {string.Join(' ', arguments)} exited with {process.ExitCode}:\n{stdout.Result}\n{stderr}");
        }

        return process.ExitCode;
    }
}
