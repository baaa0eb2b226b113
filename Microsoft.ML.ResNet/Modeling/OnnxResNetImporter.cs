using System.Globalization;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Modeling;

/// <summary>What an ONNX ResNet becomes: tensors under torchvision's state-dict keys, the network they fit,
/// and the normalization they expect (null when the file does not say).</summary>
internal sealed record OnnxImport(Dictionary<string, Tensor> Tensors, ResNetSpec Spec, ImageNormalization? Normalization);

/// <summary>
/// Maps an ONNX ResNet onto our modules by structure: the stem (Conv, BatchNormalization, Relu, MaxPool), residual
/// blocks recognised by their Add nodes (basic or bottleneck, with or without a 1x1 projection shortcut), the final
/// pooling and an optional Gemm/MatMul head. Every attribute that the state dict cannot carry (kernel, stride,
/// padding, groups) is checked against our modules; every shape is checked when the tensors are applied.
/// </summary>
/// <remarks>
/// Two producers are covered. CNTK's export in ML.NET's DnnImageFeaturizer package writes "same" pads as asymmetric
/// [3,3,2,2] (stem) and [1,1,0,0] (strided 3x3): on even input sides the extra row and column of torchvision's
/// symmetric pads are never read, so the convolutions compute the same values (proven by the parity tests).
/// <c>torch.onnx.export</c> in eval mode folds BatchNorm into a Conv with bias: such a convolution is mapped onto our
/// convolution plus a BatchNorm that is an identity plus that bias.
/// </remarks>
internal static class OnnxResNetImporter
{
    /// <summary>Our BatchNorm2d's epsilon; a file's other epsilon is folded into the running variance.</summary>
    private const float OurEpsilon = 1e-5f;

    /// <summary>Reads and maps <paramref name="path"/>. The caller disposes the returned tensors.</summary>
    /// <exception cref="InvalidDataException">Not an ONNX model (truncated or damaged), or a graph that does not fit our
    /// ResNet; the message names the file and the node.</exception>
    public static OnnxImport Read(string path)
    {
        var model = Parse(path);
        var mapper = new GraphMapper(path, model.Graph);
        try
        {
            var spec = mapper.Map();
            var normalization = FoldPackagePreprocessing(path, mapper.Tensors);
            return new OnnxImport(mapper.Tensors, spec, normalization);
        }
        catch
        {
            foreach (var tensor in mapper.Tensors.Values)
            {
                tensor.Dispose();
            }

            throw;
        }
    }

    private static ModelProto Parse(string path)
    {
        ModelProto model;
        try
        {
            using var stream = File.OpenRead(path);
            model = ModelProto.Parser.ParseFrom(stream);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"'{path}' looks like an ONNX model but could not be read (truncated or damaged?): {e.Message}", e);
        }

        if (model.Graph is null || model.Graph.Node.Count == 0)
        {
            throw new InvalidDataException($"'{path}' is not an ONNX ResNet: it has no graph nodes.");
        }

        return model;
    }

    /// <summary>
    /// The DnnImageFeaturizer package feeds its network BGR pixels on 0..255 minus a mean image (its
    /// ResNetPreprocess.onnx). Reversing conv1's input channels lets it take our RGB planes, and the per-channel means
    /// of the mean image become our normalization (mean/255, std 1/255). The mean image varies spatially by a few
    /// units of 255, so this fold is close, not exact; the network itself is mapped exactly.
    /// </summary>
    private static ImageNormalization? FoldPackagePreprocessing(string path, Dictionary<string, Tensor> tensors)
    {
        var preprocessPath = FeaturizerPackage.FindPreprocessFor(path);
        if (preprocessPath is null)
        {
            return null;
        }

        var graph = Parse(preprocessPath).Graph;
        var constants = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var split = graph.Node.SingleOrDefault(n => n.OpType == "Split");
        var concat = graph.Node.SingleOrDefault(n => n.OpType == "Concat");
        var sub = graph.Node.SingleOrDefault(n => n.OpType == "Sub");
        if (split is null || concat is null || sub is null || split.Output.Count != 3 || concat.Input.Count != 3
            || sub.Input.Count != 2 || !constants.TryGetValue(sub.Input[1], out var meanImage) || meanImage.Dims.Count != 4 || meanImage.Dims[1] != 3)
        {
            throw new InvalidDataException(
                $"'{preprocessPath}' (beside '{path}') is not the preprocessing we know (Split into 3 channels, Concat, Sub of a [1,3,H,W] mean image); "
                + $"its nodes: {string.Join(", ", graph.Node.Select(n => n.OpType))}.");
        }

        // order[i]: which input channel the network sees as its channel i (BGR: 2, 1, 0).
        var order = concat.Input.Select(name => split.Output.IndexOf(name)).ToArray();
        if (!order.Order().SequenceEqual([0, 1, 2]))
        {
            throw new InvalidDataException($"'{preprocessPath}': Concat inputs [{string.Join(", ", concat.Input)}] are not a reordering of the Split's outputs.");
        }

        var values = GraphMapper.FloatData(meanImage, preprocessPath);
        var plane = values.Length / 3;
        var mean = new float[3];
        var std = new float[3];
        for (var channel = 0; channel < 3; channel++)
        {
            var sum = 0.0;
            for (var i = 0; i < plane; i++)
            {
                sum += values[(channel * plane) + i];
            }

            mean[order[channel]] = (float)(sum / plane / 255.0);
            std[order[channel]] = 1f / 255f;
        }

        const string key = "conv1.weight";
        using (no_grad())
        {
            var original = tensors[key];
            // new[:, order[c]] = old[:, c]
            var source = new long[3];
            for (var channel = 0; channel < 3; channel++)
            {
                source[order[channel]] = channel;
            }

            using var index = tensor(source);
            tensors[key] = original.index_select(1, index).contiguous();
            original.Dispose();
        }

        return new ImageNormalization(mean, std);
    }

    /// <summary>Walks one graph; collects the tensors under our keys.</summary>
    private sealed class GraphMapper
    {
        /// <summary>A headless file's spec still needs a class count; ImageNet's is the network's own task.</summary>
        private const int ImageNetClasses = 1000;

        private readonly string _path;
        private readonly GraphProto _graph;
        private readonly Dictionary<string, TensorProto> _constants = new(StringComparer.Ordinal);
        private readonly Dictionary<string, List<NodeProto>> _consumers = new(StringComparer.Ordinal);
        private readonly HashSet<NodeProto> _mapped = new(ReferenceEqualityComparer.Instance);

        public GraphMapper(string path, GraphProto graph)
        {
            _path = path;
            _graph = graph;
            foreach (var initializer in graph.Initializer)
            {
                _constants[initializer.Name] = initializer;
            }

            foreach (var node in graph.Node)
            {
                if (node.OpType == "Constant" && node.Output.Count == 1 && node.Attribute.FirstOrDefault(a => a.Name == "value")?.T is { } value)
                {
                    _constants[node.Output[0]] = value;
                    _mapped.Add(node);
                    continue;
                }

                foreach (var input in node.Input.Where(i => i.Length > 0 && !_constants.ContainsKey(i)))
                {
                    if (!_consumers.TryGetValue(input, out var list))
                    {
                        _consumers[input] = list = [];
                    }

                    list.Add(node);
                }
            }
        }

        public Dictionary<string, Tensor> Tensors { get; } = new(StringComparer.Ordinal);

        public ResNetSpec Map()
        {
            var inputs = _graph.Input.Where(i => !_constants.ContainsKey(i.Name)).ToList();
            if (inputs.Count != 1)
            {
                throw Misfit($"the graph has {inputs.Count} non-constant inputs ({string.Join(", ", inputs.Select(i => i.Name))}); a ResNet has one image input");
            }

            // Stem: 7x7/2 convolution, BatchNorm, ReLU, 3x3/2 max-pool.
            var stem = ReadConvolution(SoleConsumer(inputs[0].Name, "Conv", "the stem convolution"), "conv1", "bn1");
            CheckConvolution(stem, "conv1", inChannels: 3, outChannels: 64, kernel: 7, stride: 2);
            var relu = SoleConsumer(stem.Output, "Relu", "the stem's ReLU");
            var pool = SoleConsumer(relu.Output[0], "MaxPool", "the stem's max-pool");
            CheckMaxPool(pool);

            var x = pool.Output[0];
            var channels = 64;
            var depths = new int[ResNetSpec.StageCount];
            var stage = 0;
            bool? bottleneck = null;
            var projectedFirstStage = false;
            while (Consumers(x).Any(n => n.OpType == "Conv"))
            {
                var block = ReadBlock(x, ref stage, depths, channels, ref bottleneck);
                projectedFirstStage |= stage == 0 && depths[0] == 1 && block.Projected && block.OutChannels == channels;
                channels = block.OutChannels;
                x = block.Output;
            }

            if (depths.Any(d => d == 0))
            {
                throw Misfit($"found residual blocks per stage {string.Join('/', depths)}; a ResNet has at least one block in each of its 4 stages (64, 128, 256, 512 wide)");
            }

            var pooled = ReadPooling(x);
            var classes = ReadHead(pooled, channels);
            var unmapped = _graph.Node.Where(n => !_mapped.Contains(n)).ToList();
            if (unmapped.Count > 0)
            {
                throw Misfit($"node {Name(unmapped[0])} is not part of the ResNet structure ({unmapped.Count} such nodes)");
            }

            var usesBottleneck = bottleneck ?? false;
            var named = Enum.GetValues<ResNetArchitecture>()
                .Where(a => a >= ResNetArchitecture.ResNet50 == usesBottleneck && ResNetSpec.DefaultDepths(a).SequenceEqual(depths))
                .Select(a => (ResNetArchitecture?)a)
                .FirstOrDefault();
            var architecture = named ?? (usesBottleneck ? ResNetArchitecture.ResNet50 : ResNetArchitecture.ResNet18);
            return new ResNetSpec(
                architecture,
                classes ?? ImageNetClasses,
                projectedFirstStage && !usesBottleneck ? ResNetVariant.ProjectionShortcuts : ResNetVariant.TorchVision,
                StageDepths: named is null ? depths : null);
        }

        public static float[] FloatData(TensorProto tensor, string path)
        {
            if (tensor.DataType != (int)TensorProto.Types.DataType.Float)
            {
                throw new InvalidDataException($"'{path}': tensor '{tensor.Name}' has ONNX data type {tensor.DataType}; only float (1) is read.");
            }

            if (tensor.DataLocation == TensorProto.Types.DataLocation.External)
            {
                throw new InvalidDataException($"'{path}': tensor '{tensor.Name}' is stored in an external file, which is not read; save the model with its data inside.");
            }

            var count = tensor.Dims.Aggregate(1L, (a, d) => a * d);
            var values = tensor.RawData.Length > 0
                ? MemoryMarshal.Cast<byte, float>(tensor.RawData.Span).ToArray()
                : tensor.FloatData.ToArray();
            if (values.Length != count)
            {
                throw new InvalidDataException(
                    $"'{path}': tensor '{tensor.Name}' declares shape [{string.Join(", ", tensor.Dims)}] ({count} values) but holds {values.Length}.");
            }

            return values;
        }

        private readonly record struct Convolution(string Node, int OutChannels, int InChannels, int Kernel, int Stride, string Output);

        private readonly record struct Block(int OutChannels, bool Projected, string Output);

        private Block ReadBlock(string x, ref int stage, int[] depths, int channels, ref bool? bottleneck)
        {
            var convolutions = Consumers(x).Where(n => n.OpType == "Conv").ToList();
            var main = convolutions.Where(c => NodeAfterConvolution(c)?.OpType != "Add").ToList();
            var shortcuts = convolutions.Except(main).ToList();
            if (main.Count != 1 || shortcuts.Count > 1)
            {
                throw Misfit($"tensor '{x}' feeds {main.Count} main-branch and {shortcuts.Count} shortcut convolutions ({string.Join(", ", convolutions.Select(Name))}); a residual block has one of each at most");
            }

            var width = (int)ConvolutionWeight(main[0]).Dims[0];
            var blockStage = width % 64 == 0 && int.IsPow2(width / 64) ? int.Log2(width / 64) : -1;
            if (blockStage == stage + 1 && stage + 1 < ResNetSpec.StageCount && depths[stage] > 0)
            {
                stage = blockStage;
            }
            else if (blockStage != stage)
            {
                throw Misfit($"node {Name(main[0])} starts a block {width} wide in stage {stage + 1} ({64 << stage} wide, {depths[stage]} blocks so far); stages are 64, 128, 256, 512 wide, in order");
            }

            var index = depths[stage]++;
            var prefix = FormattableString.Invariant($"layer{stage + 1}.{index}");
            var stride = index == 0 && stage > 0 ? 2 : 1;

            var conv1 = ReadConvolution(main[0], $"{prefix}.conv1", $"{prefix}.bn1");
            var relu1 = SoleConsumer(conv1.Output, "Relu", $"{prefix}'s first ReLU");
            var conv2 = ReadConvolution(SoleConsumer(relu1.Output[0], "Conv", $"{prefix}'s second convolution"), $"{prefix}.conv2", $"{prefix}.bn2");
            var isBottleneck = SoleConsumerOrNull(conv2.Output)?.OpType == "Relu";
            if (bottleneck is { } known && known != isBottleneck)
            {
                throw Misfit($"block {prefix} (node {Name(main[0])}) is a {(isBottleneck ? "bottleneck" : "basic")} block after {(known ? "bottleneck" : "basic")} ones");
            }

            bottleneck = isBottleneck;
            var last = conv2;
            int outChannels;
            if (isBottleneck)
            {
                outChannels = width * 4;
                CheckConvolution(conv1, $"{prefix}.conv1", channels, width, kernel: 1, stride: 1);
                CheckConvolution(conv2, $"{prefix}.conv2", width, width, kernel: 3, stride: stride);
                var relu2 = SoleConsumer(conv2.Output, "Relu", $"{prefix}'s second ReLU");
                last = ReadConvolution(SoleConsumer(relu2.Output[0], "Conv", $"{prefix}'s third convolution"), $"{prefix}.conv3", $"{prefix}.bn3");
                CheckConvolution(last, $"{prefix}.conv3", width, outChannels, kernel: 1, stride: 1);
            }
            else
            {
                outChannels = width;
                CheckConvolution(conv1, $"{prefix}.conv1", channels, width, kernel: 3, stride: stride);
                CheckConvolution(conv2, $"{prefix}.conv2", width, width, kernel: 3, stride: 1);
            }

            var add = SoleConsumer(last.Output, "Add", $"{prefix}'s residual Add");
            var other = add.Input.Count == 2 ? (add.Input[0] == last.Output ? add.Input[1] : add.Input[0]) : null;
            var projected = shortcuts.Count == 1;
            if (projected)
            {
                var projection = ReadConvolution(shortcuts[0], $"{prefix}.downsample.0", $"{prefix}.downsample.1");
                CheckConvolution(projection, $"{prefix}.downsample.0", channels, outChannels, kernel: 1, stride: stride);
                if (other != projection.Output)
                {
                    throw Misfit($"node {Name(add)} does not add the projection {Name(shortcuts[0])}'s output to block {prefix}");
                }
            }
            else if (other != x)
            {
                throw Misfit($"node {Name(add)} adds '{other}', neither block {prefix}'s input '{x}' nor a 1x1 projection of it");
            }
            else if (stride != 1 || channels != outChannels)
            {
                throw Misfit($"block {prefix} (node {Name(main[0])}) changes shape ({channels} to {outChannels} channels, stride {stride}) but has no projection shortcut");
            }

            _mapped.Add(add);
            var relu = SoleConsumer(add.Output[0], "Relu", $"{prefix}'s output ReLU");
            return new Block(outChannels, projected, relu.Output[0]);
        }

        private string ReadPooling(string x)
        {
            var pool = SoleConsumer(x, null, "the final pooling");
            switch (pool.OpType)
            {
                case "GlobalAveragePool":
                    break;
                case "AveragePool":
                    // A fixed window (CNTK's 7x7) equals adaptive pooling at the input size it was made for (224x224).
                    if (Ints(pool, "pads").Any(p => p != 0))
                    {
                        throw Misfit($"node {Name(pool)} pads its pooling window; expected none");
                    }

                    break;
                case "ReduceMean" when Ints(pool, "axes") is [2, 3] && pool.Input.Count == 1:
                    break;
                default:
                    throw Misfit($"node {Name(pool)} follows the last residual block; expected GlobalAveragePool, AveragePool or ReduceMean over H and W");
            }

            _mapped.Add(pool);
            return pool.Output[0];
        }

        /// <summary>Maps the classifier, if any; returns its class count or null when the graph ends at the features.</summary>
        private int? ReadHead(string pooled, int features)
        {
            var x = pooled;
            while (SoleConsumerOrNull(x) is { OpType: "Flatten" or "Reshape" or "Squeeze" } reshape)
            {
                _mapped.Add(reshape);
                x = reshape.Output[0];
            }

            var head = SoleConsumerOrNull(x);
            if (head is null)
            {
                return null;
            }

            Tensor weight;
            Tensor? bias = null;
            string output;
            if (head.OpType == "Gemm")
            {
                if (Float(head, "alpha", 1f) != 1f || Float(head, "beta", 1f) != 1f || Int(head, "transA", 0) != 0)
                {
                    throw Misfit($"node {Name(head)} scales or transposes its input (alpha, beta, transA); expected a plain fully connected layer");
                }

                var b = Constant(head, 1, "weight");
                weight = ToTensor(b);
                if (Int(head, "transB", 0) == 0)
                {
                    weight = Transposed(weight);
                }

                bias = head.Input.Count > 2 && head.Input[2].Length > 0 ? ToTensor(Constant(head, 2, "bias")) : null;
                output = head.Output[0];
            }
            else if (head.OpType == "MatMul")
            {
                weight = Transposed(ToTensor(Constant(head, 1, "weight")));
                output = head.Output[0];
                if (SoleConsumerOrNull(output) is { OpType: "Add" } add && add.Input.Count == 2 && _constants.ContainsKey(add.Input[1]))
                {
                    bias = ToTensor(Constant(add, 1, "bias"));
                    _mapped.Add(add);
                    output = add.Output[0];
                }
            }
            else
            {
                throw Misfit($"node {Name(head)} follows the pooled features; expected a Gemm or MatMul classifier, or nothing");
            }

            _mapped.Add(head);
            Tensors["fc.weight"] = weight;
            Tensors["fc.bias"] = bias ?? zeros(weight.shape[0]);
            if (weight.dim() != 2 || weight.shape[1] != features)
            {
                throw Misfit($"classifier {Name(head)} has weight [{string.Join(", ", weight.shape)}] (as [classes, features]); the pooled features are {features} wide");
            }

            var classes = (int)weight.shape[0];
            if (Tensors["fc.bias"].shape is not [var length] || length != classes)
            {
                throw Misfit($"classifier {Name(head)} has bias [{string.Join(", ", Tensors["fc.bias"].shape)}]; expected [{classes}]");
            }

            if (SoleConsumerOrNull(output) is { OpType: "Softmax" } softmax)
            {
                _mapped.Add(softmax);
            }

            return classes;
        }

        private static Tensor Transposed(Tensor matrix)
        {
            using (matrix)
            {
                return matrix.t().contiguous();
            }
        }

        /// <summary>Reads a Conv and the BatchNorm after it (or makes one: an identity plus the conv's bias).</summary>
        private Convolution ReadConvolution(NodeProto conv, string convKey, string batchNormKey)
        {
            var weight = ConvolutionWeight(conv);
            if (weight.Dims.Count != 4 || weight.Dims[2] != weight.Dims[3])
            {
                throw Misfit($"node {Name(conv)} has weight [{string.Join(", ", weight.Dims)}]; expected [out, in, k, k]");
            }

            var (outChannels, inChannels, kernel) = ((int)weight.Dims[0], (int)weight.Dims[1], (int)weight.Dims[2]);
            if (Int(conv, "group", 1) != 1 || Ints(conv, "dilations").Any(d => d != 1))
            {
                throw Misfit($"node {Name(conv)} is grouped or dilated; ResNet convolutions are neither");
            }

            var autoPad = conv.Attribute.FirstOrDefault(a => a.Name == "auto_pad")?.S.ToStringUtf8() ?? "NOTSET";
            if (autoPad is not ("NOTSET" or ""))
            {
                throw Misfit($"node {Name(conv)} uses auto_pad {autoPad}; explicit pads are expected");
            }

            var kernelShape = Ints(conv, "kernel_shape");
            if (kernelShape.Length > 0 && kernelShape.Any(k => k != kernel))
            {
                throw Misfit($"node {Name(conv)} declares kernel_shape [{string.Join(", ", kernelShape)}] but its weight is {kernel}x{kernel}");
            }

            var strides = Ints(conv, "strides");
            var stride = strides.Length == 0 ? 1 : (int)strides[0];
            if (strides.Any(s => s != stride))
            {
                throw Misfit($"node {Name(conv)} has unequal strides [{string.Join(", ", strides)}]");
            }

            CheckPads(conv, kernel, stride);
            Tensors[$"{convKey}.weight"] = ToTensor(weight);
            var convBias = conv.Input.Count > 2 && conv.Input[2].Length > 0 ? FloatData(Constant(conv, 2, "bias"), _path) : null;
            _mapped.Add(conv);

            var output = conv.Output[0];
            float[] scale, shift, mean, variance;
            if (SoleConsumerOrNull(output) is { OpType: "BatchNormalization" } batchNorm)
            {
                if (batchNorm.Input.Count != 5 || batchNorm.Output.Count < 1)
                {
                    throw Misfit($"node {Name(batchNorm)} has {batchNorm.Input.Count} inputs; expected X, scale, B, mean, var");
                }

                scale = FloatData(Constant(batchNorm, 1, "scale"), _path);
                shift = FloatData(Constant(batchNorm, 2, "B"), _path);
                mean = FloatData(Constant(batchNorm, 3, "mean"), _path);
                variance = FloatData(Constant(batchNorm, 4, "var"), _path);
                var epsilon = Float(batchNorm, "epsilon", OurEpsilon);
                for (var c = 0; c < variance.Length; c++)
                {
                    // (x + b - mean) / sqrt(var + eps) == (x - (mean - b)) / sqrt((var + eps - ours) + ours)
                    variance[c] += epsilon - OurEpsilon;
                    if (convBias is not null && c < convBias.Length)
                    {
                        mean[c] -= convBias[c];
                    }
                }

                if (variance.Any(v => v < 0))
                {
                    throw Misfit($"node {Name(batchNorm)} has epsilon {epsilon.ToString(CultureInfo.InvariantCulture)} and a variance too small to express with our epsilon 1e-5");
                }

                _mapped.Add(batchNorm);
                output = batchNorm.Output[0];
            }
            else
            {
                // BatchNorm folded away (torch.onnx.export in eval mode): (x - 0) / sqrt((1 - eps) + eps) * 1 + bias.
                scale = Enumerable.Repeat(1f, outChannels).ToArray();
                shift = convBias ?? new float[outChannels];
                mean = new float[outChannels];
                variance = Enumerable.Repeat(1f - OurEpsilon, outChannels).ToArray();
            }

            foreach (var (name, values) in new[] { ("weight", scale), ("bias", shift), ("running_mean", mean), ("running_var", variance) })
            {
                if (values.Length != outChannels)
                {
                    throw Misfit($"the {name} of {batchNormKey} after node {Name(conv)} has {values.Length} values; the convolution has {outChannels} output channels");
                }

                Tensors[$"{batchNormKey}.{name}"] = tensor(values);
            }

            Tensors[$"{batchNormKey}.num_batches_tracked"] = tensor(0L);
            return new Convolution(Name(conv), outChannels, inChannels, kernel, stride, output);
        }

        /// <summary>Symmetric k/2 pads, or CNTK's "same" pads (one less at the end) on a strided convolution.</summary>
        private void CheckPads(NodeProto node, int kernel, int stride)
        {
            var pads = Ints(node, "pads");
            if (pads.Length == 0)
            {
                pads = new long[4];
            }

            var half = kernel / 2;
            var symmetric = pads.Length == 4 && pads.All(p => p == half);
            var cntkSame = pads.Length == 4 && stride == 2 && half > 0 && pads[0] == half && pads[1] == half && pads[2] == half - 1 && pads[3] == half - 1;
            if (!symmetric && !cntkSame)
            {
                throw Misfit($"node {Name(node)} has pads [{string.Join(", ", pads)}] for a {kernel}x{kernel} kernel at stride {stride}; expected [{half}, {half}, {half}, {half}]");
            }
        }

        private void CheckConvolution(Convolution conv, string key, int inChannels, int outChannels, int kernel, int stride)
        {
            if (conv.InChannels != inChannels || conv.OutChannels != outChannels || conv.Kernel != kernel || conv.Stride != stride)
            {
                throw Misfit(
                    $"node {conv.Node} (mapped to {key}) is {conv.InChannels}->{conv.OutChannels} channels, {conv.Kernel}x{conv.Kernel} at stride {conv.Stride}; "
                    + $"our ResNet has {inChannels}->{outChannels}, {kernel}x{kernel} at stride {stride} there");
            }
        }

        private void CheckMaxPool(NodeProto pool)
        {
            var kernel = Ints(pool, "kernel_shape");
            var strides = Ints(pool, "strides");
            if (kernel is not [3, 3] || strides is not [2, 2] || Int(pool, "ceil_mode", 0) != 0)
            {
                throw Misfit($"node {Name(pool)} is a {string.Join('x', kernel)} max-pool at stride [{string.Join(", ", strides)}]; expected 3x3 at stride 2, ceil_mode 0");
            }

            CheckPads(pool, 3, 2);
            _mapped.Add(pool);
        }

        private TensorProto ConvolutionWeight(NodeProto conv) => Constant(conv, 1, "weight");

        private TensorProto Constant(NodeProto node, int input, string role) =>
            node.Input.Count > input && _constants.TryGetValue(node.Input[input], out var value)
                ? value
                : throw Misfit($"node {Name(node)} has no constant {role} (input {input}); weights must be initializers or Constant nodes");

        private Tensor ToTensor(TensorProto proto) => tensor(FloatData(proto, _path), [.. proto.Dims]);

        private List<NodeProto> Consumers(string name) =>
            _consumers.TryGetValue(name, out var list) ? list.Where(n => !_mapped.Contains(n)).ToList() : [];

        private NodeProto? SoleConsumerOrNull(string name) =>
            _consumers.TryGetValue(name, out var list) && list.Count == 1 ? list[0] : null;

        private NodeProto SoleConsumer(string name, string? opType, string role)
        {
            var consumers = _consumers.TryGetValue(name, out var list) ? list : [];
            if (consumers.Count != 1 || (opType is not null && consumers[0].OpType != opType))
            {
                var found = consumers.Count == 0 ? "nothing" : string.Join(", ", consumers.Select(Name));
                throw Misfit($"expected {role}{(opType is null ? string.Empty : $" ({opType})")} to be the only reader of '{name}'; found {found}");
            }

            if (opType is "Relu" or "MaxPool")
            {
                _mapped.Add(consumers[0]);
            }

            return consumers[0];
        }

        /// <summary>The node that reads a Conv's output, or its BatchNorm's when one follows.</summary>
        private NodeProto? NodeAfterConvolution(NodeProto conv)
        {
            var next = SoleConsumerOrNull(conv.Output[0]);
            return next?.OpType == "BatchNormalization" ? SoleConsumerOrNull(next.Output[0]) : next;
        }

        private static long[] Ints(NodeProto node, string name) =>
            node.Attribute.FirstOrDefault(a => a.Name == name)?.Ints.ToArray() ?? [];

        private static long Int(NodeProto node, string name, long fallback) =>
            node.Attribute.FirstOrDefault(a => a.Name == name) is { } attribute ? attribute.I : fallback;

        private static float Float(NodeProto node, string name, float fallback) =>
            node.Attribute.FirstOrDefault(a => a.Name == name) is { } attribute ? attribute.F : fallback;

        private static string Name(NodeProto node) =>
            $"'{(node.Name.Length > 0 ? node.Name : node.Output.FirstOrDefault() ?? "?")}' ({node.OpType})";

        private InvalidDataException Misfit(string what) =>
            new($"ONNX model '{_path}' does not fit our ResNet: {what}.");
    }
}
