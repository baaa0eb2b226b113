using System.Text.Json;
using ImageClassification.Reporting;

namespace Microsoft.ML.ResNet.Tests.Samples;

[TestClass]
public sealed class PredictionWriterTests
{
    private static readonly Prediction[] Predictions =
    [
        new("/data/a,b \"quoted\".png", "Coat", 0.75f, [new("Coat", 0.75f), new("Shirt", 0.2f)]),
        new("/data/c.png", "Bag", 0.5f, [new("Bag", 0.5f), new("Coat", 0.25f)]),
    ];

    [TestMethod]
    public void WriteCsv_PathWithCommaAndQuotes_QuotesPerRfc4180()
    {
        var output = new StringWriter();

        PredictionWriter.WriteCsv(Predictions, output);

        var lines = output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.AreEqual("image_path,predicted_label,score,top1_label,top1_score,top2_label,top2_score", lines[0]);
        Assert.AreEqual("\"/data/a,b \"\"quoted\"\".png\",Coat,0.75,Coat,0.75,Shirt,0.2", lines[1]);
        Assert.AreEqual("/data/c.png,Bag,0.5,Bag,0.5,Coat,0.25", lines[2]);
    }

    [TestMethod]
    public void WriteJson_TwoPredictions_ParsesBackWithTopK()
    {
        var output = new StringWriter();

        PredictionWriter.WriteJson(Predictions, output);

        using var json = JsonDocument.Parse(output.ToString());
        var first = json.RootElement[0];
        Assert.AreEqual(2, json.RootElement.GetArrayLength());
        Assert.AreEqual("/data/a,b \"quoted\".png", first.GetProperty("imagePath").GetString());
        Assert.AreEqual("Coat", first.GetProperty("predictedLabel").GetString());
        Assert.AreEqual("Shirt", first.GetProperty("top")[1].GetProperty("label").GetString());
        Assert.AreEqual(0.2f, first.GetProperty("top")[1].GetProperty("score").GetSingle(), 1e-6f);
    }
}
