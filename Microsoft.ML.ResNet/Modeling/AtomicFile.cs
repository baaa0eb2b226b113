namespace Microsoft.ML.ResNet.Modeling;

/// <summary>Writes a file so that readers see either the old content or the complete new content.</summary>
internal static class AtomicFile
{
    /// <summary>
    /// Runs <paramref name="write"/> into a temp file beside <paramref name="path"/>, then renames it over
    /// the target. On any failure the temp file is deleted and an existing target is left untouched.
    /// </summary>
    /// <exception cref="IOException">Writing or renaming failed (e.g. the disk is full); the message names
    /// <paramref name="path"/>, the inner exception is the cause.</exception>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(write);
        var target = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(folder);

        // Same folder, so the final rename never crosses a file system and stays atomic.
        var temp = Path.Combine(folder, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 20))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, target, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw new IOException($"Could not write '{target}' (the previous file, if any, is unchanged): {e.Message}", e);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // The original failure is the one worth reporting.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
