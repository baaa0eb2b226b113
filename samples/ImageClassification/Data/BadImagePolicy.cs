namespace ImageClassification.Data;

/// <summary>What to do with a file that has an image extension but does not decode.</summary>
internal enum BadImagePolicy
{
    /// <summary>Leave it out and list it in a report (the default: one bad file in ten thousand should not stop a run).</summary>
    Skip,

    /// <summary>Stop before training, listing every bad file.</summary>
    Fail,
}
