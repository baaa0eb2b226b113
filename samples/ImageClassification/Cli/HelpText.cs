namespace ImageClassification.Cli;

/// <summary>The text of <c>--help</c>.</summary>
internal static class HelpText
{
    public const string Text = """
        Train, evaluate and use a ResNet image classifier (ML.NET + TorchSharp + ONNX Runtime).

        Usage: dotnet run --project samples/ImageClassification -- [command] [options]

        With no command: fine-tune an ImageNet ResNet on the embedded Fashion-MNIST sample, evaluate
        it, save out/model.zip and out/model.onnx, and classify a few held-out images.

        Commands:
          train      Train on a folder with one sub-folder per label (<data>/<label>/<image>).
                     A folder holding only train/ and test/ is used as already split; otherwise
                     --test-data is the test set, or 1 image in 5 of each label is held out.
                       --data <folder>        default: the embedded Fashion-MNIST sample
                       --test-data <folder>   labelled test images
                       By default the network starts from ImageNet weights (the ResNet of ML.NET's
                       Microsoft.ML.DnnImageFeaturizer.ResNet18 package, basic blocks 2/2/2/3) and is
                       fine-tuned: the head fitted to its features first, then 3 epochs end to end
                       (stem, layer1, layer2 frozen), batch 32, AdamW, images upscaled to 4x their size
                       (112 to 224 pixels: 112x112 for the 28x28 sample).
                       --from-scratch         random weights instead: ResNet-34, 32x32 images, 6 epochs,
                                              learning rate 0.03
                       --arch <name>          resnet18 | resnet34 | resnet50 | resnet101 | resnet152
                                              (with --from-scratch or --weights)
                       --variant <wiring>     torchvision (default) | seed: the seed project's ResNet-34
                                              (a projection shortcut on every stage's first block, fixed
                                              7x7 pool): from scratch, 224x224 images only
                       --epochs <n>           passes over the training images
                       --image-size <pixels>  square input size, >= 32 (default: see above; 32 from scratch)
                       --batch-size <n>       images per step
                       --learning-rate <lr>   peak of the one-cycle schedule (the head's when fine-tuning;
                                              default 0.001 fine-tuning, 0.03 from scratch)
                       --weights <file>       start from these weights (.pth, .safetensors, ONNX)
                       --output <folder>      where model.zip and model.onnx go (default ./out); epoch
                                              checkpoints in <folder>/checkpoints until the model is saved
                       --seed <n>             default 1
          evaluate   Metrics of a saved model on a labelled folder.
                       --model <model.zip>    default ./out/model.zip
                       --data <folder>        default: the embedded test set
          predict <image|folder>
                     Classify one image or every image under a folder.
                       --model <model.zip>    default ./out/model.zip
                       --format table|csv|json  default table (csv/json on stdout, notes on stderr)
          export     Write the ONNX file of a saved model.
                       --model <model.zip>    default ./out/model.zip
                       --output <model.onnx>  default: next to the model
                       --triton <folder>      instead, write a Triton model repository there
                                              (<folder>/resnet: config.pbtxt, 1/model.onnx, labels.txt)

        Options of every command that reads images:
          --bad-images skip|fail  a file with an image extension that does not decode is skipped and
                                  listed (skip, the default) or stops the run before any work (fail)
          --top-k <k>             how many labels to show per image / top-k accuracy (default 3)

        Exit codes: 0 ok, 1 failure, 2 bad command line, 3 bad data or model path.
        """;
}
