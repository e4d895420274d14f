// The perceptual distance seam of the consistency losses (upstream: KarrasDenoiser.lpips_loss = piq.LPIPS(...)).
using static TorchSharp.torch;

namespace ConsistencyModels.Metrics;

/// <summary>A per-sample image distance d(x, y) -> [B] on images in [0, 1] shaped [B, 3, H, W]; differentiable in x and y.</summary>
public interface IImageDistance
{
    Tensor Distance(Tensor x, Tensor y);
}
