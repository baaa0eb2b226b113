using Microsoft.ML.ResNet.Modeling;
using Microsoft.ML.ResNet.Scoring;

namespace Microsoft.ML.ResNet.Catalog;

/// <summary>A classifier ready for a session: ONNX bytes under our contract, its labels and shapes, and its unfolded weights
/// when it was built from weights or trained (null for an ONNX file, whose BatchNorm is folded away).</summary>
internal sealed record PreparedModel(byte[] Onnx, IReadOnlyList<string> Labels, ScoringModelInfo Info, NetworkWeights? Weights = null);
