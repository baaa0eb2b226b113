using Microsoft.ML.Data;
using Microsoft.ML.ResNet.Tests.Training;

namespace Microsoft.ML.ResNet.Tests.Catalog;

/// <summary>Bad data and bad options are refused with errors that name the column, option and values.</summary>
[TestClass]
public sealed class ResNetTrainerInputTests
{
    private static ResNetTrainerOptions Options() => ResNetTrainingLoopTests.SmallOptions();

    [TestMethod]
    public void ResNet34_OptionsNamingAnotherArchitecture_ThrowsInsteadOfReplacingIt()
    {
        var options = new ResNetTrainerOptions { Architecture = ResNetArchitecture.ResNet18 };

        var error = Assert.ThrowsExactly<ArgumentException>(() => new MLContext().MulticlassClassification.Trainers.ResNet34(options));

        Assert.AreEqual(nameof(ResNetTrainerOptions.Architecture), error.ParamName);
        StringAssert.Contains(error.Message, "ResNet18");
        StringAssert.Contains(error.Message, "Trainers.ResNet(options)");
        Assert.AreEqual(ResNetArchitecture.ResNet18, options.Architecture, "The caller's options are not changed.");
    }

    [TestMethod]
    public void ResNet_SameNameForTwoOutputColumns_ThrowsNamingTheColumns()
    {
        var options = Options();
        options.EmbeddingColumnName = "Score";

        var error = Assert.ThrowsExactly<ArgumentException>(() => new MLContext().MulticlassClassification.Trainers.ResNet(options));

        Assert.AreEqual(nameof(ResNetTrainerOptions.ScoreColumnName), error.ParamName);
        StringAssert.Contains(error.Message, "Score, PredictedLabel, Score");
    }

    [TestMethod]
    public void Train_OneClass_ThrowsNamingLabelColumn()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 8, classes: 1, size: 32);

        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ResNetTrainingLoopTests.Train(ml, data, Options()));

        Assert.AreEqual("input", error.ParamName);
        StringAssert.Contains(error.Message, "'Label' has 1 class");
    }

    [TestMethod]
    public void Train_EmptyData_Throws()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.SkipRows(TrainingData.Synthetic(ml, rows: 8, classes: 2, size: 32), 8);

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => ResNetTrainingLoopTests.Train(ml, data, Options()));

        StringAssert.Contains(error.Message, "has 0");
    }

    [TestMethod]
    public void Train_TextLabel_ThrowsAskingForMapValueToKey()
    {
        var ml = new MLContext(seed: 1);
        var keyed = TrainingData.Synthetic(ml, rows: 8, classes: 2, size: 32);
        var text = ml.Transforms.Conversion.MapKeyToValue("Label").Fit(keyed).Transform(keyed);

        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ResNetTrainingLoopTests.Train(ml, text, Options()));

        Assert.AreEqual("input", error.ParamName);
        StringAssert.Contains(error.Message, "expected a key type, got String");
        StringAssert.Contains(error.Message, "MapValueToKey");
    }

    [TestMethod]
    public void Train_PixelVectorOfOtherSize_ThrowsSchemaMismatch()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 8, classes: 2, size: 28);

        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ResNetTrainingLoopTests.Train(ml, data, Options()));

        Assert.AreEqual("input", error.ParamName);
        StringAssert.Contains(error.Message, "Schema mismatch for input column 'Features': expected Vector<Single, 3, 32, 32>, got Vector<Single, 2352>");
    }

    [TestMethod]
    public void Train_MissingPixelColumn_ListsColumns()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 8, classes: 2, size: 32);
        var options = Options();
        options.FeatureColumnName = "Pixels";

        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ResNetTrainingLoopTests.Train(ml, data, options));

        StringAssert.Contains(error.Message, "'Pixels'");
        StringAssert.Contains(error.Message, "Features, Label");
    }

    [TestMethod]
    [DataRow(float.NaN, "NaN")]
    [DataRow(float.PositiveInfinity, "+Infinity")]
    public void Train_NonFinitePixels_ThrowsNamingRowColumnPixelAndValue(float value, string shown)
    {
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 16).Select(i => new Row { Features = Enumerable.Repeat(i == 3 ? value : 0.5f, 3 * 32 * 32).ToArray(), Label = $"c{i % 2}" });
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 3 * 32 * 32);
        var raw = ml.Data.LoadFromEnumerable(rows, schema);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(raw).Transform(raw);

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => ResNetTrainingLoopTests.Train(ml, data, Options()));

        StringAssert.Contains(error.Message, "Row 3");
        StringAssert.Contains(error.Message, "column 'Features'");
        StringAssert.Contains(error.Message, $"pixel 0 is {shown}");
    }

    [TestMethod]
    public void Train_ValidationDataWithOtherKeys_ThrowsNamingOption()
    {
        var ml = new MLContext(seed: 1);
        var data = TrainingData.Synthetic(ml, rows: 8, classes: 2, size: 32);
        var options = Options();
        options.ValidationData = TrainingData.Synthetic(ml, rows: 9, classes: 3, size: 32);

        var error = Assert.ThrowsExactly<ArgumentException>(() => ResNetTrainingLoopTests.Train(ml, data, options));

        Assert.AreEqual(nameof(ResNetTrainerOptions.ValidationData), error.ParamName);
    }

    [TestMethod]
    [DataRow(nameof(ResNetTrainerOptions.Epochs))]
    [DataRow(nameof(ResNetTrainerOptions.BatchSize))]
    [DataRow(nameof(ResNetTrainerOptions.LearningRate))]
    [DataRow(nameof(ResNetTrainerOptions.Momentum))]
    [DataRow(nameof(ResNetTrainerOptions.WeightDecay))]
    [DataRow(nameof(ResNetTrainerOptions.LabelSmoothing))]
    [DataRow(nameof(ResNetTrainerOptions.ImageHeight))]
    [DataRow(nameof(ResNetTrainerOptions.CropPadding))]
    [DataRow(nameof(ResNetTrainerOptions.ValidationFraction))]
    [DataRow(nameof(ResNetTrainerOptions.EarlyStoppingPatience))]
    [DataRow(nameof(ResNetTrainerOptions.GpuDeviceId))]
    [DataRow(nameof(ResNetTrainerOptions.Architecture))]
    public void ResNet_OptionOutOfRange_ThrowsNamingIt(string option)
    {
        var ml = new MLContext();
        var options = Options();
        switch (option)
        {
            case nameof(ResNetTrainerOptions.Epochs): options.Epochs = 0; break;
            case nameof(ResNetTrainerOptions.BatchSize): options.BatchSize = 1; break;
            case nameof(ResNetTrainerOptions.LearningRate): options.LearningRate = 0; break;
            case nameof(ResNetTrainerOptions.Momentum): options.Momentum = 1; break;
            case nameof(ResNetTrainerOptions.WeightDecay): options.WeightDecay = -1; break;
            case nameof(ResNetTrainerOptions.LabelSmoothing): options.LabelSmoothing = 1; break;
            case nameof(ResNetTrainerOptions.ImageHeight): options.ImageHeight = 16; break;
            case nameof(ResNetTrainerOptions.CropPadding): options.CropPadding = 16; break;
            case nameof(ResNetTrainerOptions.ValidationFraction): options.ValidationFraction = 1; break;
            case nameof(ResNetTrainerOptions.EarlyStoppingPatience): options.ValidationFraction = 0.2; options.EarlyStoppingPatience = 0; break;
            case nameof(ResNetTrainerOptions.GpuDeviceId): options.GpuDeviceId = -1; break;
            case nameof(ResNetTrainerOptions.Architecture): options.Architecture = (ResNetArchitecture)42; break;
        }

        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.ResNet(options));

        Assert.AreEqual(option, error.ParamName);
    }

    [TestMethod]
    public void ResNet_EarlyStoppingWithoutValidation_ThrowsNamingIt()
    {
        var options = Options();
        options.EarlyStoppingPatience = 2;

        var error = Assert.ThrowsExactly<ArgumentException>(() => new MLContext().MulticlassClassification.Trainers.ResNet(options));

        Assert.AreEqual(nameof(ResNetTrainerOptions.EarlyStoppingPatience), error.ParamName);
    }

    [TestMethod]
    public void ResNet_FreezeWithoutWeights_ThrowsNamingIt()
    {
        var options = Options();
        options.FreezeBackbone = true;

        var error = Assert.ThrowsExactly<ArgumentException>(() => new MLContext().MulticlassClassification.Trainers.ResNet(options));

        Assert.AreEqual(nameof(ResNetTrainerOptions.FreezeBackbone), error.ParamName);
    }

    [TestMethod]
    public void ResNet_NullArguments_ThrowNamingThem()
    {
        var trainers = new MLContext().MulticlassClassification.Trainers;

        Assert.AreEqual("options", Assert.ThrowsExactly<ArgumentNullException>(() => trainers.ResNet(null!)).ParamName);
        Assert.AreEqual("catalog", Assert.ThrowsExactly<ArgumentNullException>(() => ResNetTrainerCatalog.ResNet34(null!)).ParamName);
        Assert.AreEqual(nameof(ResNetTrainerOptions.LabelColumnName), Assert.ThrowsExactly<ArgumentException>(() => trainers.ResNet34(labelColumnName: " ")).ParamName);
    }

    [TestMethod]
    public void ResNet_GpuWithoutCuda_ThrowsUnlessFallback()
    {
        var ml = new MLContext(seed: 1);
        if (TorchSharp.torch.cuda.is_available())
        {
            Assert.Inconclusive("CUDA is available here; this test covers machines without it.");
        }

        var data = TrainingData.Synthetic(ml, rows: 8, classes: 2, size: 32);
        var options = Options();
        options.GpuDeviceId = 0;
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => ResNetTrainingLoopTests.Train(ml, data, options));
        StringAssert.Contains(error.Message, "fallbackToCpu");

        options.FallbackToCpu = true;
        using var trained = ResNetTrainingLoopTests.Train(ml, data, options);
        Assert.AreEqual(TorchSharp.DeviceType.CPU, trained.Model.fc.weight!.device_type);
    }

    [TestMethod]
    public void ResNet_MLContextGpuWithoutFallback_Throws()
    {
        if (TorchSharp.torch.cuda.is_available())
        {
            Assert.Inconclusive("CUDA is available here; this test covers machines without it.");
        }

        var ml = new MLContext(seed: 1) { GpuDeviceId = 0, FallbackToCpu = false };
        var data = TrainingData.Synthetic(ml, rows: 8, classes: 2, size: 32);

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => ResNetTrainingLoopTests.Train(ml, data, Options()));

        StringAssert.Contains(error.Message, "GPU device 0");
    }

    private sealed class Row
    {
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = string.Empty;
    }
}
