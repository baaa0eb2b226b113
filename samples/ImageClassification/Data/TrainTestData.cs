namespace ImageClassification.Data;

/// <summary>The images to train on and the held-out images to evaluate on, with what was left out.</summary>
internal sealed record TrainTestData(
    IReadOnlyList<ImageInput> Train,
    IReadOnlyList<ImageInput> Test,
    IReadOnlyList<string> Labels,
    IReadOnlyList<SkippedImage> Skipped,
    string Description)
{
    /// <summary>The Fashion-MNIST subset copied next to the app (200 train / 100 test images per class).</summary>
    public static string EmbeddedSampleFolder => Path.Combine(AppContext.BaseDirectory, "SampleData", "fashion-mnist");

    /// <summary>
    /// Reads <paramref name="dataFolder"/>. A folder whose only sub-folders are <c>train</c> and <c>test</c>
    /// is taken as already split; otherwise <paramref name="testFolder"/> is the test set, or one image in
    /// five of each label is held out.
    /// </summary>
    /// <exception cref="DatasetException">See <see cref="ImageFolderDataset.Load"/>; also when the test set has
    /// labels the training set does not.</exception>
    public static TrainTestData Load(string dataFolder, string? testFolder, BadImagePolicy policy)
    {
        var root = Path.GetFullPath(dataFolder);
        if (testFolder is null && IsPreSplit(root))
        {
            root = Path.Combine(root, "train");
            testFolder = Path.Combine(Path.GetDirectoryName(root)!, "test");
        }

        var train = ImageFolderDataset.Load(root, policy);
        if (testFolder is null)
        {
            var (trainImages, testImages) = train.Split();
            return new TrainTestData(trainImages, testImages, train.Labels, train.Skipped,
                $"{root}: {trainImages.Count} train / {testImages.Count} test images (1 in 5 held out), {train.Labels.Count} labels");
        }

        var test = ImageFolderDataset.Load(testFolder, policy, minLabels: 1);
        var unknown = test.Labels.Except(train.Labels).ToList();
        if (unknown.Count > 0)
        {
            throw new DatasetException(
                $"Test folder '{test.Root}' has label(s) {string.Join(", ", unknown.Select(l => $"'{l}'"))} that training folder '{train.Root}' " +
                $"does not have. Training labels: {string.Join(", ", train.Labels)}.");
        }

        return new TrainTestData(train.Images, test.Images, train.Labels, [.. train.Skipped, .. test.Skipped],
            $"{train.Root}: {train.Images.Count} train images; {test.Root}: {test.Images.Count} test images; {train.Labels.Count} labels");
    }

    /// <summary>
    /// Refuses a row without an image path. ML.NET's LoadImages would read an empty path as an all-black image and
    /// train or score it without a word; here the row and its label are still visible, so the error can name them.
    /// </summary>
    /// <exception cref="DatasetException">A row's <see cref="ImageInput.ImagePath"/> is empty or white space.</exception>
    public static void RequireImagePaths(IReadOnlyList<ImageInput> rows, string setName)
    {
        for (var i = 0; i < rows.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(rows[i].ImagePath))
            {
                throw new DatasetException(
                    $"Row {i} of the {setName} set (label '{rows[i].Label}') has an empty image path; expected the path of an image file. " +
                    "An empty path would be read as an all-black image.");
            }
        }
    }

    private static bool IsPreSplit(string root)
    {
        if (!Directory.Exists(root))
        {
            return false;
        }

        var names = Directory.GetDirectories(root).Select(Path.GetFileName).Select(n => n!.ToLowerInvariant()).Order().ToList();
        return names.SequenceEqual(["test", "train"]);
    }
}
