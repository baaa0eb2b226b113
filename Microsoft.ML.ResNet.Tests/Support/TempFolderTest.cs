namespace Microsoft.ML.ResNet.Tests;

/// <summary>A test class whose every test gets a fresh folder under the system temp folder, deleted after the test.</summary>
public abstract class TempFolderTest
{
    /// <summary>The current test's own folder.</summary>
    protected string Folder { get; private set; } = string.Empty;

    [TestInitialize]
    public void CreateFolder() => Folder = TestPaths.NewTempFolder();

    [TestCleanup]
    public void DeleteFolder() => Directory.Delete(Folder, recursive: true);
}
