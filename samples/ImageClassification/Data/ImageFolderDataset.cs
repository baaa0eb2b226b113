using Microsoft.ML.Data;

namespace ImageClassification.Data;

/// <summary>
/// A labelled image set read from a folder with one sub-folder per label (<c>data/&lt;label&gt;/&lt;image&gt;</c>),
/// the layout Model Builder and Keras' <c>image_dataset_from_directory</c> use.
/// </summary>
/// <remarks>
/// Every image is decoded once up front with ML.NET's own decoder (<see cref="MLImage"/>), so a corrupt
/// or mislabelled file is found here, with its path, rather than as a cursor exception halfway through an
/// epoch. The cost is one extra read of each file.
/// </remarks>
internal sealed class ImageFolderDataset
{
    /// <summary>File extensions read as images; everything else in the folders is ignored.</summary>
    public static readonly IReadOnlySet<string> ImageExtensions =
        new HashSet<string>(StringComparer.OrdinalIgnoreCase) { ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp" };

    private ImageFolderDataset(string root, IReadOnlyList<ImageInput> images, IReadOnlyList<string> labels, IReadOnlyList<SkippedImage> skipped)
    {
        Root = root;
        Images = images;
        Labels = labels;
        Skipped = skipped;
    }

    /// <summary>The folder read.</summary>
    public string Root { get; }

    /// <summary>Readable images with their labels, ordered by label then file name (deterministic).</summary>
    public IReadOnlyList<ImageInput> Images { get; }

    /// <summary>Labels that have at least one readable image, sorted ordinally.</summary>
    public IReadOnlyList<string> Labels { get; }

    /// <summary>Files left out under <see cref="BadImagePolicy.Skip"/>.</summary>
    public IReadOnlyList<SkippedImage> Skipped { get; }

    /// <summary>Reads a folder-per-label tree.</summary>
    /// <param name="folder">The root; its sub-folders are the labels.</param>
    /// <param name="policy">What to do with files that do not decode.</param>
    /// <param name="minLabels">2 for training (a classifier needs two classes); 1 for evaluation.</param>
    /// <exception cref="DatasetException">The folder is missing or empty, has fewer than <paramref name="minLabels"/>
    /// labels with images, or (with <see cref="BadImagePolicy.Fail"/>) has a file that does not decode.</exception>
    public static ImageFolderDataset Load(string folder, BadImagePolicy policy, int minLabels = 2)
    {
        var root = Path.GetFullPath(folder);
        if (!Directory.Exists(root))
        {
            throw new DatasetException(File.Exists(root)
                ? $"Data path '{root}' is a file; expected a folder with one sub-folder per label."
                : $"Data folder '{root}' does not exist.");
        }

        var labelFolders = Directory.GetDirectories(root).Order(StringComparer.Ordinal).ToList();
        var looseImages = Directory.EnumerateFiles(root).Count(IsImageFile);
        if (labelFolders.Count == 0)
        {
            var hint = looseImages > 0 ? $" It holds {looseImages} image(s) directly; move them into one sub-folder per label." : string.Empty;
            throw new DatasetException($"Data folder '{root}' has no label sub-folders. Expected <folder>/<label>/<image>.{hint}");
        }

        var images = new List<ImageInput>();
        var skipped = new List<SkippedImage>();
        foreach (var labelFolder in labelFolders)
        {
            var label = Path.GetFileName(labelFolder);
            var files = Directory.EnumerateFiles(labelFolder, "*", SearchOption.AllDirectories)
                .Where(IsImageFile)
                .Order(StringComparer.Ordinal);
            foreach (var file in files)
            {
                var problem = DecodeProblem(file);
                if (problem is null)
                {
                    images.Add(new ImageInput { ImagePath = file, Label = label });
                }
                else
                {
                    skipped.Add(new SkippedImage(file, problem));
                }
            }
        }

        if (skipped.Count > 0 && policy == BadImagePolicy.Fail)
        {
            var list = string.Join(Environment.NewLine, skipped.Take(20).Select(s => $"  {s.Path}: {s.Reason}"));
            var more = skipped.Count > 20 ? $"{Environment.NewLine}  ... and {skipped.Count - 20} more" : string.Empty;
            throw new DatasetException(
                $"{skipped.Count} image file(s) under '{root}' could not be read (--bad-images fail):{Environment.NewLine}{list}{more}");
        }

        var labels = images.Select(i => i.Label).Distinct().Order(StringComparer.Ordinal).ToList();
        if (images.Count == 0)
        {
            throw new DatasetException(
                $"Data folder '{root}' has no readable images in its {labelFolders.Count} sub-folder(s) " +
                $"(looked for {string.Join(", ", ImageExtensions)}; {skipped.Count} unreadable).");
        }

        if (labels.Count < minLabels)
        {
            throw new DatasetException(
                $"Data folder '{root}' has images for {labels.Count} label(s) ({string.Join(", ", labels.Select(l => $"'{l}'"))}); " +
                $"a classifier needs at least {minLabels}, one sub-folder each.");
        }

        return new ImageFolderDataset(root, images, labels, skipped);
    }

    /// <summary>
    /// Splits off every <paramref name="testEvery"/>-th image of each label as a test set: stratified and
    /// deterministic, so two runs on the same folder compare like with like.
    /// </summary>
    public (IReadOnlyList<ImageInput> Train, IReadOnlyList<ImageInput> Test) Split(int testEvery = 5)
    {
        var train = new List<ImageInput>();
        var test = new List<ImageInput>();
        foreach (var group in Images.GroupBy(i => i.Label))
        {
            var index = 0;
            foreach (var image in group)
            {
                (++index % testEvery == 0 ? test : train).Add(image);
            }
        }

        return (train, test);
    }

    internal static bool IsImageFile(string path) => ImageExtensions.Contains(Path.GetExtension(path));

    internal static string? DecodeProblem(string path)
    {
        try
        {
            if (new FileInfo(path).Length == 0)
            {
                return "empty file";
            }

            using var image = MLImage.CreateFromFile(path);
            return image.Width > 0 && image.Height > 0 ? null : "decodes to an empty image";
        }
        catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            // MLImage reports undecodable bytes as an "invalid path"; say what it means.
            return $"does not decode as an image ({e.GetType().Name}: {e.Message})";
        }
    }
}
