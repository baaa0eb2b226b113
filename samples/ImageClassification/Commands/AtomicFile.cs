namespace ImageClassification.Commands;

/// <summary>Writes a file so a crash or Ctrl+C never leaves a half-written model where a good one was.</summary>
internal static class AtomicFile
{
    /// <summary>Calls <paramref name="write"/> with a temp path in the same folder, then moves it over <paramref name="path"/>.</summary>
    public static void Write(string path, Action<string> write)
    {
        var temp = Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        try
        {
            write(temp);
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }
}
