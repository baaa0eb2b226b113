namespace Microsoft.ML.ResNet.Tests.Support;

/// <summary>A test class whose every test gets a fresh <see cref="TempFolder"/>, deleted after the test.</summary>
public abstract class TempFolderTest
{
    private TempFolder? _folder;

    /// <summary>The current test's own folder.</summary>
    protected string Folder => _folder?.Path ?? throw new InvalidOperationException("The folder exists only while a test runs.");

    [TestInitialize]
    public void CreateFolder() => _folder = TempFolder.Create();

    [TestCleanup]
    public void DeleteFolder()
    {
        _folder?.Dispose();
        _folder = null;
    }
}
