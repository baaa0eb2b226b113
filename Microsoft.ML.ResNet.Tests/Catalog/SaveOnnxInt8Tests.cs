using Microsoft.ML.Data;
using Microsoft.ML.ResNet.Tests.Export.Quantization;
using Microsoft.ML.ResNet.Tests.Scoring;
using Microsoft.ML.ResNet.Tests.Training;

namespace Microsoft.ML.ResNet.Tests.Catalog;

/// <summary>
/// <see cref="ResNetClassifierTransformer.SaveOnnx(string, IDataView, OnnxQuantizationOptions?)"/> on a classifier trained
/// on the committed Fashion-MNIST split: the INT8 file agrees with the FP32 one on the test split.
/// </summary>
[TestClass]
public sealed class SaveOnnxInt8Tests : TempFolderTest
{
    public TestContext TestContext { get; set; } = null!;

    /// <summary>The accuracy goal: top-1 within 1 point of FP32, the same label on at least 98% of the test images.</summary>
    [TestMethod]
    public void SaveOnnxInt8_FashionMnistTestSplit_AgreesWithFp32()
    {
        var fixture = Int8Fixtures.Get();
        var truth = fixture.Test.GetColumn<uint>(TrainingData.Label).Select(k => (int)k - 1).ToArray();
        var fp32 = Int8Fixtures.Predict(fixture.Fp32Path, fixture.Test, out _);
        var int8 = Int8Fixtures.Predict(fixture.Int8Path, fixture.Test, out _);

        var fp32Accuracy = Accuracy(fp32, truth);
        var int8Accuracy = Accuracy(int8, truth);
        var agreement = Accuracy(int8, fp32);
        TestContext.WriteLine($"{fixture.Classifier.Labels.Count} classes, {truth.Length} test images: FP32 top-1 {fp32Accuracy:P1}, INT8 top-1 {int8Accuracy:P1}, same label {agreement:P1}; files {new FileInfo(fixture.Fp32Path).Length} / {new FileInfo(fixture.Int8Path).Length} bytes");
        Assert.IsTrue(Math.Abs(fp32Accuracy - int8Accuracy) <= 0.01, $"INT8 top-1 {int8Accuracy:P1} is not within 1 point of FP32's {fp32Accuracy:P1}.");
        Assert.IsTrue(agreement >= 0.98, $"INT8 and FP32 give the same label on {agreement:P1} of the test images; the bar is 98%.");
    }

    /// <summary>ResNet34Classify takes the INT8 file like any other, says how it was quantized, and a model.zip of it loads
    /// in stock ML.NET (ML.NET's own transformers only) with the same labels.</summary>
    [TestMethod]
    public void ResNetClassify_Int8File_ScoresTransparentlyAndSavesPortableZip()
    {
        var fixture = Int8Fixtures.Get();
        var ml = new MLContext(seed: 1);
        var rows = ml.Data.TakeRows(fixture.Test, 100);
        var expected = Int8Fixtures.Predict(fixture.Int8Path, rows, out _);
        using var classifier = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { ModelPath = fixture.Int8Path, FeatureColumnName = TrainingData.Features }).Fit(rows);

        var keys = classifier.Transform(rows).GetColumn<uint>("PredictedLabel").Select(k => (int)k - 1).ToArray();
        var zip = Path.Combine(Folder, "model.int8.zip");
        ml.Model.Save(classifier, rows.Schema, zip);
        var stock = ml.Model.Load(zip, out _);
        var stockKeys = stock.Transform(rows).GetColumn<uint>("PredictedLabel").Select(k => (int)k - 1).ToArray();
        (stock as IDisposable)?.Dispose();

        Assert.AreEqual("int8-qdq;calibration=minmax;rows=200", classifier.Quantization);
        Assert.IsNull(fixture.Classifier.Quantization, "The FP32 classifier is not quantized.");
        CollectionAssert.AreEqual(expected, keys, "ResNetClassify gives the bare session's labels.");
        CollectionAssert.AreEqual(expected, stockKeys, "The saved zip, loaded by stock ML.NET, gives the same labels.");
        Assert.IsNotInstanceOfType<ResNetClassifierTransformer>(stock);
    }

    [TestMethod]
    public void SaveOnnxInt8_WrongPixelShape_ThrowsNamingColumn()
    {
        var fixture = Int8Fixtures.Get();
        var path = Path.Combine(Folder, "model.int8.onnx");
        var wrong = TrainingData.LoadImages(new MLContext(1), TestPaths.FashionMnistTest, 64);

        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => fixture.Classifier.SaveOnnx(path, wrong));
        Assert.AreEqual("calibrationData", error.ParamName);
        StringAssert.Contains(error.Message, "Schema mismatch for input column 'Features': expected Vector<Single, 3, 32, 32>, got Vector<Single, 3, 64, 64>");
        Assert.IsFalse(File.Exists(path));
    }

    [TestMethod]
    public void SaveOnnxInt8_TooFewRows_Throws()
    {
        var fixture = Int8Fixtures.Get();
        var path = Path.Combine(Folder, "model.int8.onnx");

        var error = Assert.ThrowsExactly<ArgumentException>(() => fixture.Classifier.SaveOnnx(path, fixture.Ml.Data.TakeRows(fixture.Train, 10)));
        Assert.AreEqual("calibrationData", error.ParamName);
        StringAssert.Contains(error.Message, "has 10 rows");
        StringAssert.Contains(error.Message, "at least 20");
        Assert.IsFalse(File.Exists(path));
    }

    [TestMethod]
    public void SaveOnnxInt8_NaNPixels_ThrowsNamingRow()
    {
        var fixture = Int8Fixtures.Get();
        var rows = Enumerable.Range(0, 30).Select(i => new PixelRow { Features = Enumerable.Repeat(i == 3 ? float.NaN : 0.5f, 3 * 32 * 32).ToArray() });
        var path = Path.Combine(Folder, "model.int8.onnx");

        var error = Assert.ThrowsExactly<ArgumentException>(() => fixture.Classifier.SaveOnnx(path, Pixels(fixture.Ml, rows)));
        StringAssert.Contains(error.Message, "Calibration row 3 of column 'Features': pixel 0 is NaN");
        Assert.IsFalse(File.Exists(path));
    }

    /// <summary>
    /// The PyTorch reference ResNet-34 (exported by PyTorch itself, so the rewriter meets a graph that is not ours) on the
    /// committed photographs at 224x224: the INT8 model picks the FP32 model's top-1 class on every photo. Calibrated on
    /// those photos (four times over, the minimum of 20 rows) to keep the test short.
    /// </summary>
    [TestMethod]
    public void SaveOnnxInt8_PyTorchReferencePhotos_SameTop1AsFp32()
    {
        var fixture = PythonReference.Get("resnet34");
        var ml = new MLContext(seed: 1);
        var calibration = ImagePipeline.PhotoPixels(ml, 224, times: 4);
        var photos = ImagePipeline.PhotoPixels(ml, 224);
        var path = Path.Combine(Folder, "resnet34.int8.onnx");
        using var fp32 = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { ModelPath = ScoringFixtures.ReferenceResNet34(fixture), FeatureColumnName = "Pixels" }).Fit(photos);

        fp32.SaveOnnx(path, calibration);
        using var int8 = ml.Transforms.ResNetClassify(new ResNetClassifierOptions { ModelPath = path, FeatureColumnName = "Pixels" }).Fit(photos);

        var fp32Keys = ScoringFixtures.Keys(fp32.Transform(photos));
        var pytorchTop1 = fixture.Outputs.Probabilities.Select(p => (uint)Array.IndexOf(p, p.Max()) + 1).ToArray();
        CollectionAssert.AreEqual(pytorchTop1, fp32Keys, "FP32 scoring gives PyTorch's top-1.");
        CollectionAssert.AreEqual(fp32Keys, ScoringFixtures.Keys(int8.Transform(photos)), "INT8 gives FP32's top-1 on every photograph.");
    }

    [TestMethod]
    public void SaveOnnxInt8_AlreadyQuantized_Throws()
    {
        var fixture = Int8Fixtures.Get();
        using var int8 = fixture.Ml.Transforms.ResNetClassify(new ResNetClassifierOptions { ModelPath = fixture.Int8Path, FeatureColumnName = TrainingData.Features }).Fit(fixture.Train);
        var path = Path.Combine(Folder, "twice.onnx");

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => int8.SaveOnnx(path, fixture.Train));
        StringAssert.Contains(error.Message, "already quantized");
        Assert.IsFalse(File.Exists(path));
    }

    private static IDataView Pixels(MLContext ml, IEnumerable<PixelRow> rows)
    {
        var definition = SchemaDefinition.Create(typeof(PixelRow));
        definition[0].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 3, 32, 32);
        return ml.Data.LoadFromEnumerable(rows, definition);
    }

    private static double Accuracy(int[] predicted, int[] expected) => predicted.Zip(expected).Count(p => p.First == p.Second) / (double)expected.Length;

    private sealed class PixelRow
    {
        public float[] Features { get; set; } = [];
    }
}
