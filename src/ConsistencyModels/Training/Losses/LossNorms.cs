// Per-sample distances of cm/karras_diffusion.py::consistency_losses (`loss_norm` branch, :204-234), before weighting.
using ConsistencyModels.Metrics;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ConsistencyModels.Training;

public static class LossNorms
{
    /// <summary>
    /// The unweighted per-sample distance [B] between the online (<paramref name="distiller"/>) and target denoised
    /// images in [-1, 1], with upstream's op order. <paramref name="perceptual"/> is required for <see cref="LossNorm.Lpips"/>.
    /// </summary>
    public static Tensor Distance(LossNorm norm, Tensor distiller, Tensor target, IImageDistance? perceptual = null)
    {
        using var scope = NewDisposeScope();
        Tensor result;
        switch (norm)
        {
            case LossNorm.L1:
                result = MeanFlat((distiller - target).abs());
                break;
            case LossNorm.L2:
                result = MeanFlat((distiller - target).pow(2));
                break;
            case LossNorm.L2At32:
                result = MeanFlat((Bilinear(distiller, 32) - Bilinear(target, 32)).pow(2));
                break;
            case LossNorm.Lpips:
                if (perceptual is null) throw new ArgumentException("LossNorm.Lpips needs a perceptual distance (IImageDistance)", nameof(perceptual));
                if (distiller.shape[^1] < 256)
                {
                    distiller = Bilinear(distiller, 224);
                    target = Bilinear(target, 224);
                }
                result = perceptual.Distance((distiller + 1) / 2.0, (target + 1) / 2.0);
                break;
            case LossNorm.PseudoHuber:
            {
                double c = PseudoHuberC(distiller);
                var squared = (distiller - target).pow(2).flatten(1).sum(1);
                result = (squared + c * c).sqrt() - c;
                break;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(norm), norm, null);
        }
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>iCT's Pseudo-Huber constant c = 0.00054·√d for samples of d = C·H·W values.</summary>
    public static double PseudoHuberC(Tensor batch) => 0.00054 * Math.Sqrt(batch[0].numel());

    /// <summary>mean_flat: the mean over every dimension but the first.</summary>
    public static Tensor MeanFlat(Tensor t) => t.mean([.. Enumerable.Range(1, (int)t.dim() - 1).Select(i => (long)i)]);

    /// <summary>F.interpolate(x, size=size, mode="bilinear") with upstream's default align_corners=False, no antialias.</summary>
    public static Tensor Bilinear(Tensor x, long size) =>
        F.interpolate(x, size: [size, size], mode: InterpolationMode.Bilinear, align_corners: false);
}
