using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.ML.ResNet.Tests.Scoring;
using Microsoft.ML.ResNet.Tests.Serving;

namespace Microsoft.ML.ResNet.Tests.Samples;

/// <summary>samples/WebApp's HTTP contract, against the real app in a child process on a loopback port.</summary>
[TestClass]
public sealed class WebAppApiTests
{
    private const int UploadLimitMegabytes = 1;
    private static WebAppServer? _server;

    private static WebAppServer Server => _server ?? throw new InvalidOperationException("The server did not start.");

    [ClassInitialize]
    public static async Task StartServer(TestContext context) =>
        _server = await WebAppServer.StartAsync(ServingFixtures.ModelZip(), "--max-upload-mb", $"{UploadLimitMegabytes}");

    [ClassCleanup]
    public static void StopServer() => _server?.Dispose();

    [TestMethod]
    public async Task Predict_CommittedPhoto_ReturnsLabelsAndScoresOfTheModel()
    {
        var photo = ImagePipeline.PhotoPaths()[1];
        using var client = Server.NewClient();

        using var response = await client.PostAsync("predict", Upload(File.ReadAllBytes(photo), "image", "cat.png"));
        var body = await Json(response);

        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, body.ToString());
        Assert.AreEqual("application/json", response.Content.Headers.ContentType?.MediaType);
        var predictions = body.GetProperty("predictions").EnumerateArray()
            .Select(p => (Label: p.GetProperty("label").GetString()!, Score: p.GetProperty("score").GetSingle()))
            .ToArray();
        Assert.HasCount(5, predictions, "top 5 of the 5 classes");
        CollectionAssert.AreEquivalent(ServingFixtures.Labels, predictions.Select(p => p.Label).ToArray());
        CollectionAssert.AreEqual(predictions.OrderByDescending(p => p.Score).ToArray(), predictions, "best first");
        var heatMap = body.GetProperty("heatmap").GetString()!;
        StringAssert.StartsWith(heatMap, "data:image/png;base64,");
        var png = Convert.FromBase64String(heatMap["data:image/png;base64,".Length..]);
        using var drawn = Microsoft.ML.Data.MLImage.CreateFromStream(new MemoryStream(png));
        Assert.AreEqual(224, drawn.Width, "the heat map is drawn over the uploaded photo at its size");

        // The same numbers as the library's predictor in this process.
        var ml = new MLContext(1);
        await using var predictor = new ResNetBatchPredictor(ml, ResNetClassifierTransformer.Load(ml, ServingFixtures.ModelZip()));
        var expected = await predictor.PredictAsync(File.ReadAllBytes(photo));
        for (var i = 0; i < predictions.Length; i++)
        {
            Assert.AreEqual(expected.Top[i].Label, predictions[i].Label);
            Assert.AreEqual(expected.Top[i].Score, predictions[i].Score, 1e-6f);
        }
    }

    [TestMethod]
    public async Task Predict_TextFile_Returns400SayingItIsNotAnImage()
    {
        using var client = Server.NewClient();

        using var response = await client.PostAsync("predict", Upload("<html>not an image</html>"u8.ToArray(), "image", "page.png"));

        await AssertError(response, "is not an image", "25 bytes");
    }

    [TestMethod]
    public async Task Predict_EmptyFile_Returns400SayingItIsEmpty()
    {
        using var client = Server.NewClient();

        using var response = await client.PostAsync("predict", Upload([], "image", "empty.png"));

        await AssertError(response, "'empty.png'", "is empty (0 bytes)");
    }

    [TestMethod]
    public async Task Predict_OtherField_Returns400NamingTheFields()
    {
        using var client = Server.NewClient();

        using var response = await client.PostAsync("predict", Upload(File.ReadAllBytes(ImagePipeline.PhotoPaths()[0]), "picture", "a.png"));

        await AssertError(response, "No file in field 'image'", "fields: picture");
    }

    [TestMethod]
    public async Task Predict_NotMultipart_Returns400()
    {
        using var client = Server.NewClient();

        using var response = await client.PostAsync("predict", new ByteArrayContent(File.ReadAllBytes(ImagePipeline.PhotoPaths()[0])));

        await AssertError(response, "Expected a multipart/form-data upload");
    }

    [TestMethod]
    public async Task Predict_OverTheLimit_Returns400NamingTheLimitAndTheServerLivesOn()
    {
        using var client = Server.NewClient();
        var tooLarge = new byte[(UploadLimitMegabytes * 1024 * 1024) + 1];

        using var response = await client.PostAsync("predict", Upload(tooLarge, "image", "large.png"));

        await AssertError(response, "larger than the limit of 1,048,576 bytes");
        using var health = await client.GetAsync("health");
        Assert.AreEqual(HttpStatusCode.OK, health.StatusCode, Server.Output);
    }

    [TestMethod]
    public async Task HealthAndReady_LoadedModel_Return200()
    {
        using var client = Server.NewClient();

        using var health = await client.GetAsync("health");
        using var ready = await client.GetAsync("ready");
        var readyBody = await Json(ready);

        Assert.AreEqual(HttpStatusCode.OK, health.StatusCode);
        Assert.AreEqual(HttpStatusCode.OK, ready.StatusCode);
        Assert.AreEqual(5, readyBody.GetProperty("classes").GetInt32());
    }

    [TestMethod]
    public async Task Page_Root_IsOneSelfContainedHtmlPage()
    {
        using var client = Server.NewClient();

        using var response = await client.GetAsync("");
        var html = await response.Content.ReadAsStringAsync();

        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);
        Assert.AreEqual("text/html", response.Content.Headers.ContentType?.MediaType);
        StringAssert.Contains(html, "<input id=\"file\" type=\"file\"");
        Assert.DoesNotContain("src=\"http", html, "no external scripts or images");
        Assert.DoesNotContain("href=\"http", html, "no external styles");
    }

    private static MultipartFormDataContent Upload(byte[] bytes, string field, string fileName)
    {
        var file = new ByteArrayContent(bytes);
        file.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        return new MultipartFormDataContent { { file, field, fileName } };
    }

    private static async Task<JsonElement> Json(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();

    private static async Task AssertError(HttpResponseMessage response, params string[] fragments)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.AreEqual(HttpStatusCode.BadRequest, response.StatusCode, text);
        var error = JsonDocument.Parse(text).RootElement.GetProperty("error").GetString()!;
        foreach (var fragment in fragments)
        {
            StringAssert.Contains(error, fragment);
        }
    }
}
