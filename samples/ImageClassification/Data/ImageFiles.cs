namespace ImageClassification.Data;

/// <summary>The images <c>predict</c> reads: one file, or every image under a folder (labels not needed).</summary>
internal static class ImageFiles
{
    /// <summary>Collects readable images under <paramref name="path"/>, sorted by path.</summary>
    /// <exception cref="DatasetException">The path does not exist, holds no image files, or (with
    /// <see cref="BadImagePolicy.Fail"/>) a file does not decode; a single given file that does not decode always fails.</exception>
    public static (IReadOnlyList<ImageInput> Images, IReadOnlyList<SkippedImage> Skipped) Collect(string path, BadImagePolicy policy)
    {
        var full = Path.GetFullPath(path);
        if (File.Exists(full))
        {
            var problem = ImageFolderDataset.DecodeProblem(full);
            return problem is null
                ? ([new ImageInput { ImagePath = full }], [])
                : throw new DatasetException($"Image '{full}' could not be read: {problem}");
        }

        if (!Directory.Exists(full))
        {
            throw new DatasetException($"Image or folder '{full}' does not exist.");
        }

        var images = new List<ImageInput>();
        var skipped = new List<SkippedImage>();
        var files = Directory.EnumerateFiles(full, "*", SearchOption.AllDirectories).Where(ImageFolderDataset.IsImageFile).Order(StringComparer.Ordinal);
        foreach (var file in files)
        {
            var problem = ImageFolderDataset.DecodeProblem(file);
            if (problem is null)
            {
                images.Add(new ImageInput { ImagePath = file });
            }
            else
            {
                skipped.Add(new SkippedImage(file, problem));
            }
        }

        if (skipped.Count > 0 && policy == BadImagePolicy.Fail)
        {
            throw new DatasetException(
                $"{skipped.Count} image file(s) under '{full}' could not be read (--bad-images fail): " +
                string.Join("; ", skipped.Take(20).Select(s => $"{s.Path}: {s.Reason}")));
        }

        if (images.Count == 0)
        {
            throw new DatasetException(
                $"Folder '{full}' has no readable images (looked for {string.Join(", ", ImageFolderDataset.ImageExtensions)}; {skipped.Count} unreadable).");
        }

        return (images, skipped);
    }
}
