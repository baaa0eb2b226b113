using System.Diagnostics;

namespace Microsoft.ML.ResNet.Tests.Support;

/// <summary>
/// A real full disk: a tmpfs of a given size mounted on a fresh folder (needs root or CAP_SYS_ADMIN; tests
/// skip with the reason otherwise). Dispose unmounts it and deletes the folder.
/// </summary>
internal sealed class SmallDisk : IDisposable
{
    private readonly TempFolder _mountPoint;

    private SmallDisk(TempFolder mountPoint) => _mountPoint = mountPoint;

    public string Folder => _mountPoint.Path;

    public static SmallDisk Mount(string size)
    {
        var folder = TempFolder.Create();
        var (code, output) = Run("mount", "-t", "tmpfs", "-o", $"size={size}", "tmpfs", folder.Path);
        if (code != 0)
        {
            folder.Dispose();
            Assert.Inconclusive($"Cannot mount a tmpfs to simulate a full disk here (mount exited {code}: {output.Trim()}); run as root or with CAP_SYS_ADMIN.");
        }

        return new SmallDisk(folder);
    }

    /// <summary>Writes a filler file until the disk is full, then frees <paramref name="leaveFreeBytes"/>.</summary>
    public void Fill(long leaveFreeBytes = 0)
    {
        var filler = Path.Combine(Folder, "filler");
        using var stream = new FileStream(filler, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0);
        var block = new byte[4096];
        try
        {
            while (true)
            {
                stream.Write(block);
            }
        }
        catch (IOException)
        {
            // Full.
        }

        stream.SetLength(Math.Max(0, (stream.Length / 4096 * 4096) - leaveFreeBytes));
    }

    public void Dispose()
    {
        Run("umount", Folder);
        _mountPoint.Dispose();
    }

    private static (int Code, string Output) Run(string command, params string[] arguments)
    {
        try
        {
            var start = new ProcessStartInfo(command, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, output);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, e.Message);
        }
    }
}
