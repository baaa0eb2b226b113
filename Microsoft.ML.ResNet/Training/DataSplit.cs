namespace Microsoft.ML.ResNet.Training;

/// <summary>Which rows of an IDataView a feeder reads when a fraction is held out for validation.</summary>
internal enum DataSplit
{
    /// <summary>Every row with a label.</summary>
    All,

    /// <summary>Rows not held out.</summary>
    Training,

    /// <summary>Rows held out for validation.</summary>
    Holdout,
}
