using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.ResNet.Tests.Training;

namespace Microsoft.ML.ResNet.Tests.Catalog;

/// <summary><see cref="ResNetTrainerOptions.Int8OnnxPath"/>: the trainer writes an INT8 model beside the classifier it returns.</summary>
[TestClass]
public sealed class ResNetTrainerInt8Tests : TempFolderTest
{
    [TestMethod]
    public void Fit_Int8OnnxPath_WritesCalibratedInt8Model()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, 48, 3, 32);
        var path = Path.Combine(Folder, "model.int8.onnx");

        using var classifier = ml.MulticlassClassification.Trainers.ResNet(new ResNetTrainerOptions
        {
            Architecture = ResNetArchitecture.ResNet18,
            StageDepths = [1, 1, 1, 1],
            ImageHeight = 32,
            ImageWidth = 32,
            Epochs = 1,
            Seed = 1,
            Int8OnnxPath = path,
            Int8CalibrationRows = 40,
        }).Fit(data);

        using var session = new InferenceSession(path);
        Assert.AreEqual("int8-qdq;calibration=minmax;rows=40", session.ModelMetadata.CustomMetadataMap["resnet.quantization"]);
        Assert.IsNull(classifier.Quantization, "Fit returns the FP32 classifier.");
        CollectionAssert.AreEqual(classifier.Labels.ToArray(), System.Text.Json.JsonSerializer.Deserialize<string[]>(session.ModelMetadata.CustomMetadataMap["resnet.labels"]));
    }

    [TestMethod]
    public void ResNet_TooFewInt8CalibrationRows_ThrowsBeforeTraining()
    {
        var ml = new MLContext(seed: 1);

        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(
            () => ml.MulticlassClassification.Trainers.ResNet(new ResNetTrainerOptions { Int8OnnxPath = Path.Combine(Folder, "m.onnx"), Int8CalibrationRows = 5 }));
        Assert.AreEqual(nameof(ResNetTrainerOptions.Int8CalibrationRows), error.ParamName);
    }
}
