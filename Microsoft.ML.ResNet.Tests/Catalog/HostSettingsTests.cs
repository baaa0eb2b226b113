using Microsoft.ML.ResNet.Catalog;

namespace Microsoft.ML.ResNet.Tests.Catalog;

[TestClass]
public sealed class HostSettingsTests
{
    [TestMethod]
    public void From_TrainersCatalog_ReadsTheContextsGpuSettings()
    {
        var ml = new MLContext(seed: 1) { GpuDeviceId = 3, FallbackToCpu = true };

        var host = HostSettings.From(ml.MulticlassClassification.Trainers);

        Assert.AreEqual(3, host.GpuDeviceId);
        Assert.IsTrue(host.FallbackToCpu);
    }

    [TestMethod]
    public void From_TransformsCatalog_ReadsTheContextsGpuSettings()
    {
        var ml = new MLContext(seed: 1) { GpuDeviceId = 2, FallbackToCpu = false };

        var host = HostSettings.From(ml.Transforms);

        Assert.AreEqual(2, host.GpuDeviceId);
        Assert.IsFalse(host.FallbackToCpu);
    }

    [TestMethod]
    public void NextSeed_SameContextSeed_SameDrawsFromEveryCatalog()
    {
        var first = HostSettings.From(new MLContext(seed: 7).MulticlassClassification.Trainers);
        var second = HostSettings.From(new MLContext(seed: 7).MulticlassClassification.Trainers);
        var other = HostSettings.From(new MLContext(seed: 8).MulticlassClassification.Trainers);

        var draws = new[] { first.NextSeed(), first.NextSeed() };

        CollectionAssert.AreEqual(draws, new[] { second.NextSeed(), second.NextSeed() });
        Assert.AreNotEqual(draws[0], draws[1], "Each Fit draws the next seed.");
        Assert.AreNotEqual(draws[0], other.NextSeed());
    }

    [TestMethod]
    public void Info_WritesToTheContextsLog()
    {
        var ml = new MLContext(seed: 1);
        var lines = new List<string>();
        ml.Log += (_, e) => lines.Add(e.Message);

        HostSettings.From(ml.MulticlassClassification.Trainers).Info("hello from the trainer");

        Assert.IsTrue(lines.Any(l => l.Contains("hello from the trainer")), string.Join('\n', lines));
    }

    [TestMethod]
    public void Place_NullOptions_TakeTheContexts()
    {
        var host = HostSettings.From(new MLContext { GpuDeviceId = 1, FallbackToCpu = true });

        Assert.AreEqual(new DevicePlacement(1, true), host.Place(gpuDeviceId: null, fallbackToCpu: null));
        Assert.AreEqual(new DevicePlacement(1, true), host.Place(gpuDeviceId: null, fallbackToCpu: false), "No device: the context's device and fallback, as ML.NET's ApplyOnnxModel.");
        Assert.AreEqual(new DevicePlacement(0, true), host.Place(gpuDeviceId: 0, fallbackToCpu: null));
        Assert.AreEqual(new DevicePlacement(0, false), host.Place(gpuDeviceId: 0, fallbackToCpu: false));
    }

    [TestMethod]
    public void FindEnvironment_NoEnvironmentWithinReach_ThrowsNamingTheMLNetVersion()
    {
        // What a future ML.NET that keeps the environment elsewhere looks like to the walker: a catalog without one.
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => HostSettings.FindEnvironment(new CatalogWithoutEnvironment()));

        StringAssert.Contains(error.Message, nameof(CatalogWithoutEnvironment));
        StringAssert.Contains(error.Message, typeof(MLContext).Assembly.GetName().Version!.ToString());
        StringAssert.Contains(error.Message, "seed, GPU settings and log");
    }

    private sealed class CatalogWithoutEnvironment
    {
        private readonly object _owner = new();

        public override string ToString() => _owner.ToString()!;
    }
}
