// The seam between evaluation maths and the network that embeds images (Inception-v3, or the Fashion-MNIST classifier).
using static TorchSharp.torch;

namespace ConsistencyModels.Metrics;

public interface IFeatureExtractor : IDisposable
{
    /// <summary>Named in every report: FID numbers are only comparable under the same extractor.</summary>
    string Name { get; }

    int FeatureDim { get; }

    /// <summary>
    /// Features [n, FeatureDim] (float32, CPU) and class probabilities [n, C] (for the Inception Score; null when the
    /// network has no classifier head) of uint8 images [n, H, W, C] (the npz layout of samples and reference batches).
    /// </summary>
    (Tensor Features, Tensor? Probabilities) Extract(Tensor imagesNhwc);
}
