namespace Microsoft.ML.ResNet.Tests.Support;

/// <summary>Where the committed test data and fixture scripts are, as copied next to the tests.</summary>
internal static class TestPaths
{
    public static string TestData => Path.Combine(AppContext.BaseDirectory, "TestData");

    /// <summary>Five real photographs, 224x224 RGB PNG (see tools/make_test_photos.py).</summary>
    public static string Photos => Path.Combine(TestData, "photos");

    /// <summary>Fashion-MNIST subset, train/ and test/ with a folder per class (see tools/make_fashion_mnist_subset.py).</summary>
    public static string FashionMnist => Path.Combine(TestData, "fashion-mnist");

    public static string FashionMnistTrain => Path.Combine(FashionMnist, "train");

    public static string FashionMnistTest => Path.Combine(FashionMnist, "test");

    /// <summary>
    /// Tux Paint stamp photographs, train/ and test/ with a folder per label, 96x96 RGB PNG; each training photo is
    /// also there mirrored (<c>*_m.png</c>) (see tools/make_tuxpaint_photos_subset.py).
    /// </summary>
    public static string TuxPaintPhotos => Path.Combine(TestData, "tuxpaint-photos");

    /// <summary>A genuinely all-black 28x28 grayscale PNG (see tools/make_black_image.py).</summary>
    public static string BlackImage => Path.Combine(TestData, "black", "black-28x28.png");

    /// <summary>A real torch.save file that is no state dict: a list of two tensors (see tools/make_list_pth.py).</summary>
    public static string ListOfTensorsPth => Path.Combine(TestData, "pytorch", "list-of-tensors.pth");

    public static string Tools => Path.Combine(AppContext.BaseDirectory, "tools");

    /// <summary>The repository's root: the tests run from Microsoft.ML.ResNet.Tests/bin/CONFIGURATION/TFM/.</summary>
    public static string RepositoryRoot => Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", ".."));

    /// <summary>The build configuration the tests were built in ("Release", "Debug"), for finding sibling projects' output.</summary>
    public static string Configuration => new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
}
