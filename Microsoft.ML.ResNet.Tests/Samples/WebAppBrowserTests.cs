using System.Text.Json.Nodes;
using Microsoft.ML.ResNet.Tests.Scoring;
using Microsoft.ML.ResNet.Tests.Serving;

namespace Microsoft.ML.ResNet.Tests.Samples;

/// <summary>samples/WebApp's page in a real headless Chromium: pick a committed photo, see the labels, bars and heat map.</summary>
[TestClass]
public sealed class WebAppBrowserTests
{
    private static readonly TimeSpan ResultTimeout = TimeSpan.FromSeconds(60);

    [TestMethod]
    public async Task Page_PickedPhoto_ShowsLabelsScoreBarsAndHeatMapAndSavesAScreenshot()
    {
        if (!File.Exists(DevToolsBrowser.ChromiumPath))
        {
            Assert.Inconclusive($"{DevToolsBrowser.ChromiumPath} is absent: install Debian's chromium package (CI does) for the browser test.");
        }

        using var server = await WebAppServer.StartAsync(ServingFixtures.ModelZip());
        using var browser = await DevToolsBrowser.StartAsync();
        await browser.SendAsync("Page.enable");
        var loaded = browser.NextEvent("Page.loadEventFired");
        await browser.SendAsync("Page.navigate", new { url = server.BaseAddress.ToString() });
        await loaded;

        var document = await browser.SendAsync("DOM.getDocument");
        var input = await browser.SendAsync("DOM.querySelector", new { nodeId = (int)document!["root"]!["nodeId"]!, selector = "#file" });
        var photo = Path.GetFullPath(ImagePipeline.PhotoPaths()[1]);
        await browser.SendAsync("DOM.setFileInputFiles", new { files = new[] { photo }, nodeId = (int)input!["nodeId"]! });
        await browser.WaitUntilAsync("document.querySelectorAll('#result .prediction').length > 0", ResultTimeout, "the predictions to show");
        await browser.WaitUntilAsync(
            "!document.getElementById('heatmap').hidden && document.getElementById('overlay').complete && document.getElementById('overlay').naturalWidth > 0",
            ResultTimeout, "the heat map to show");

        var labels = (await browser.EvaluateAsync("[...document.querySelectorAll('#result .label')].map(e => e.textContent)"))!.AsArray()
            .Select(n => (string)n!).ToArray();
        var widths = (await browser.EvaluateAsync("[...document.querySelectorAll('#result .bar')].map(e => e.getBoundingClientRect().width)"))!.AsArray()
            .Select(n => n!.GetValue<double>()).ToArray();
        var status = (string?)await browser.EvaluateAsync("document.getElementById('status').textContent");
        var heatMapWidth = (await browser.EvaluateAsync("document.getElementById('overlay').naturalWidth"))!.GetValue<int>();
        var screenshot = await browser.SendAsync("Page.captureScreenshot", new { format = "png" });
        var artifacts = Path.Combine(TestPaths.RepositoryRoot, "artifacts");
        Directory.CreateDirectory(artifacts);
        var png = Convert.FromBase64String((string)screenshot!["data"]!);
        await File.WriteAllBytesAsync(Path.Combine(artifacts, "webapp.png"), png);

        Assert.HasCount(5, labels, "a row per class (top 5 of 5)");
        CollectionAssert.AreEquivalent(ServingFixtures.Labels, labels);
        Assert.IsGreaterThan(0.0, widths[0], "the best label's bar is drawn");
        Assert.IsTrue(widths.Zip(widths.Skip(1)).All(pair => pair.First >= pair.Second), $"bars shrink down the list: {string.Join(", ", widths)}");
        StringAssert.StartsWith(status, $"{Path.GetFileName(photo)}: {labels[0]}");
        Assert.AreEqual(224, heatMapWidth, "the heat map is the photo drawn over at its own size");
        CollectionAssert.AreEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4], "the screenshot is a PNG");
    }
}
