using Microsoft.ML.ResNet.Scoring;

namespace Microsoft.ML.ResNet.Catalog;

/// <summary>A classifier ready for a session: ONNX bytes under our contract, its labels and shapes.</summary>
internal sealed record PreparedModel(byte[] Onnx, IReadOnlyList<string> Labels, ScoringModelInfo Info);
