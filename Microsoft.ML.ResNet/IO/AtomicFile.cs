namespace Microsoft.ML.ResNet.IO;

/// <summary>Writes a file so that readers see either the old content or the complete new content.</summary>
internal static class AtomicFile
{
    /// <summary>
    /// Runs <paramref name="write"/> into a temp file beside <paramref name="path"/>, then renames it over
    /// the target. On any failure the temp file is deleted and an existing target is left untouched.
    /// </summary>
    /// <param name="path">The file to write.</param>
    /// <param name="write">Writes the content.</param>
    /// <param name="createFolder">Create a missing folder; false refuses it, as <c>File.WriteAllBytes</c> does.</param>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist and <paramref name="createFolder"/> is false.</exception>
    /// <exception cref="UnauthorizedAccessException">The target is a read-only file: a rename would replace it silently.</exception>
    /// <exception cref="IOException">The target is a folder, a file stands where a folder of the path should be, or
    /// writing or renaming failed (e.g. the disk is full); the message names <paramref name="path"/>, the inner
    /// exception is the cause.</exception>
    public static void Write(string path, Action<Stream> write, bool createFolder = true)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(write);
        var target = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(target)!;
        CheckTarget(target, folder, createFolder);
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

    /// <summary>Refuses, before anything is written, the targets a rename would fail on late or get wrong.</summary>
    private static void CheckTarget(string target, string folder, bool createFolder)
    {
        if (Directory.Exists(target))
        {
            throw new IOException($"Could not write '{target}': it is a folder. Give a file path.");
        }

        if (File.Exists(target) && File.GetAttributes(target).HasFlag(FileAttributes.ReadOnly))
        {
            // rename(2) replaces a read-only file without asking; whoever made it read-only meant to keep it.
            throw new UnauthorizedAccessException($"Could not write '{target}': the file is read-only and is left as it is. Make it writable or choose another path.");
        }

        var missing = folder;
        while (!Directory.Exists(missing))
        {
            if (File.Exists(missing))
            {
                throw new IOException($"Could not write '{target}': '{missing}' is a file, not a folder.");
            }

            var parent = Path.GetDirectoryName(missing);
            if (parent is null)
            {
                break;
            }

            missing = parent;
        }

        if (!createFolder && !Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"Could not write '{target}': the folder '{folder}' does not exist. Create it first.");
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
