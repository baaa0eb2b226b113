using Microsoft.ML.Data;
using Microsoft.ML.ResNet.Scoring;

namespace Microsoft.ML.ResNet.Tests.Scoring;

[TestClass]
public sealed class LabelBitsDecoderTests
{
    [TestMethod]
    [DataRow(1)]
    [DataRow(2)]
    [DataRow(5)]
    [DataRow(1000)]
    public void Fit_EveryClassCode_DecodesToItsKeyWithTheLabelsAsKeyValues(int classes)
    {
        var ml = new MLContext(1);
        var labels = Enumerable.Range(0, classes).Select(c => $"class {c}").ToArray();
        var bits = LabelBitsDecoder.BitCount(classes);
        var codes = ml.Data.LoadFromEnumerable(
            Enumerable.Range(0, classes).Select(c => new BitsRow { Bits = LabelBitsDecoder.Code(c, bits) }),
            Definition(bits));

        var decoder = LabelBitsDecoder.Fit(ml, "Bits", labels);
        var decoded = decoder.Transform(codes);

        var column = decoded.Schema[LabelBitsDecoder.PredictedLabelColumn];
        Assert.AreEqual(new KeyDataViewType(typeof(uint), classes), column.Type);
        VBuffer<ReadOnlyMemory<char>> keyValues = default;
        column.GetKeyValues(ref keyValues);
        CollectionAssert.AreEqual(labels, keyValues.DenseValues().Select(v => v.ToString()).ToArray());
        var keys = decoded.GetColumn<uint>(LabelBitsDecoder.PredictedLabelColumn).ToArray();
        CollectionAssert.AreEqual(Enumerable.Range(1, classes).Select(k => (uint)k).ToArray(), keys);
    }

    [TestMethod]
    [DataRow(1, 1)]
    [DataRow(2, 1)]
    [DataRow(5, 3)]
    [DataRow(8, 3)]
    [DataRow(9, 4)]
    [DataRow(1000, 10)]
    public void BitCount_Classes_IsTheBitsOfTheLargestIndex(int classes, int expected) =>
        Assert.AreEqual(expected, LabelBitsDecoder.BitCount(classes));

    [TestMethod]
    public void Fit_DuplicateLabels_KeepsOneKeyPerClass()
    {
        var ml = new MLContext(1);
        var codes = ml.Data.LoadFromEnumerable(
            Enumerable.Range(0, 3).Select(c => new BitsRow { Bits = LabelBitsDecoder.Code(c, 2) }),
            Definition(2));

        var decoded = LabelBitsDecoder.Fit(ml, "Bits", ["same", "same", "other"]).Transform(codes);

        Assert.AreEqual(new KeyDataViewType(typeof(uint), 3), decoded.Schema[LabelBitsDecoder.PredictedLabelColumn].Type);
        CollectionAssert.AreEqual(new uint[] { 1, 2, 3 }, decoded.GetColumn<uint>(LabelBitsDecoder.PredictedLabelColumn).ToArray());
    }

    private static SchemaDefinition Definition(int bits)
    {
        var definition = SchemaDefinition.Create(typeof(BitsRow));
        definition[0].ColumnType = new VectorDataViewType(NumberDataViewType.Single, bits);
        return definition;
    }

    private sealed class BitsRow
    {
        public float[] Bits { get; set; } = [];
    }
}
