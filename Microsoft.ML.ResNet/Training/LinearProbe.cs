using Microsoft.ML.ResNet.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Training;

/// <summary>
/// Fits a pretrained network's fresh head to its frozen features before fine-tuning: linear probing, then fine-tuning
/// (LP-FT, Kumar et al., 2022). A random head's first gradients reach the backbone large and aimless and wear away the
/// pretrained features, which a small data set cannot teach back; a head that already separates the classes sends small,
/// useful ones. This is what ML.NET's DnnFeaturizeImage + LbfgsMaximumEntropy does as its whole training, solved the
/// same way (a regularized multinomial logistic regression on the pooled features), as the starting point of ours.
/// </summary>
/// <remarks>
/// The features are computed once (eval mode, no augmentation: one forward pass over the training rows, like scoring
/// them), then the head is fitted full batch on the cached [rows, features] matrix, which costs a fraction of a second.
/// The fit runs on standardized features, so one step size suits any backbone (the featurizer package's CNTK network
/// and torchvision's emit features of very different scales), and the standardization is folded into fc afterwards.
/// </remarks>
internal static class LinearProbe
{
    // Full-batch Adam on a convex problem over standardized features: converged well before this many steps on the
    // committed sets (the training loss changes in the fourth digit over the last hundred), at about 1 ms a step.
    private const int Steps = 400;
    private const double StepSize = 0.01;

    /// <summary>Fits <c>fc</c> of <paramref name="model"/> in place; the backbone is not changed.</summary>
    /// <returns>The fitted head's accuracy on the training rows it was fitted to.</returns>
    public static double FitHead(ResNetModel model, BatchFeeder training, TrainingSettings settings, Device device, BFloat16Backbone? bfloat16, CancellationToken cancellation)
    {
        using var scope = NewDisposeScope();
        var (features, targets) = ExtractFeatures(model, bfloat16, training, settings, device, cancellation);
        return FitHead(model, features, targets, settings, device, cancellation);
    }

    /// <summary>Fits <c>fc</c> of <paramref name="model"/> in place to pooled <paramref name="features"/> [rows, features]
    /// already computed (see <see cref="PrefixCache.Features"/>) and their class indices <paramref name="targets"/>.</summary>
    /// <returns>The fitted head's accuracy on those rows.</returns>
    public static double FitHead(ResNetModel model, Tensor features, Tensor targets, TrainingSettings settings, Device device, CancellationToken cancellation)
    {
        using var scope = NewDisposeScope();
        var mean = features.mean([0]);
        var std = features.std([0]).clamp_min(1e-6);
        var standardized = (features - mean) / std;

        var classes = model.fc.weight!.shape[0];
        var weight = nn.Parameter(zeros([classes, features.shape[1]], device: device));
        var bias = nn.Parameter(zeros([classes], device: device));
        using var optimizer = TorchSharp.torch.optim.Adam([weight, bias], StepSize);

        // ML.NET's LbfgsMaximumEntropy defaults to an L2 weight of 1 on the summed loss: 1 / rows on the mean loss.
        var l2 = 1.0 / features.shape[0];
        for (var step = 0; step < Steps; step++)
        {
            cancellation.ThrowIfCancellationRequested();
            using var stepScope = NewDisposeScope();
            var logits = standardized.matmul(weight.t()) + bias;
            var loss = nn.functional.cross_entropy(logits, targets, label_smoothing: settings.LabelSmoothing) + weight.square().sum() * (l2 / 2);
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
        }

        using (no_grad())
        {
            // fc(x) = W (x - mean) / std + b = (W / std) x + (b - (W / std) mean).
            var folded = weight / std;
            model.fc.weight!.copy_(folded);
            model.fc.bias!.copy_(bias - folded.matmul(mean));
            return model.fc.call(features).argmax(1).eq(targets).to_type(ScalarType.Float32).mean().item<float>();
        }
    }

    private static (Tensor Features, Tensor Targets) ExtractFeatures(ResNetModel model, BFloat16Backbone? bfloat16, BatchFeeder training, TrainingSettings settings, Device device, CancellationToken cancellation)
    {
        model.eval();
        var features = new List<Tensor>();
        var targets = new List<Tensor>();
        using (no_grad())
        {
            foreach (var batch in training.ReadEpoch(0, train: false, cancellation))
            {
                var (input, target) = batch.ToTensors(settings.ImageHeight, settings.ImageWidth, device);
                features.Add(bfloat16?.Features(input) ?? model.Features(input));
                targets.Add(target);
                input.Dispose();
            }
        }

        return (cat(features, 0), cat(targets, 0));
    }
}
