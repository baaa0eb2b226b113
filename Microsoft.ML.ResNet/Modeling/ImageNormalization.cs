namespace Microsoft.ML.ResNet.Modeling;

/// <summary>
/// Per-channel (R, G, B) normalization a network's weights expect of 0..1 pixels: <c>(x - Mean) / Std</c>,
/// as <see cref="OnnxExportOptions"/> and the trainer's settings apply it.
/// </summary>
/// <param name="Mean">Three values, RGB order.</param>
/// <param name="Std">Three positive values, RGB order.</param>
internal sealed record ImageNormalization(float[] Mean, float[] Std);
