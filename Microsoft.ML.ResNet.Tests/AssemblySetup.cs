using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Native;

// Native-heavy tests (libtorch, ONNX Runtime) share two cores and large buffers: run them one at a time.
[assembly: DoNotParallelize]

namespace Microsoft.ML.ResNet.Tests;

[TestClass]
public static class AssemblySetup
{
    /// <summary>Tests call <c>torch</c> directly, before any library type has loaded the backend.</summary>
    [AssemblyInitialize]
    public static void LoadTorch(TestContext context) => TorchNativeLoader.EnsureLoaded();
}
