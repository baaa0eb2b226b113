namespace ImageClassification.Reporting;

/// <summary>How <c>predict</c> prints its results.</summary>
internal enum PredictionFormat
{
    /// <summary>A table for people.</summary>
    Table,

    /// <summary>RFC 4180 CSV with a header row, for spreadsheets.</summary>
    Csv,

    /// <summary>A JSON array, for programs.</summary>
    Json,
}
