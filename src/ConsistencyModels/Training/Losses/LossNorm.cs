// Loss norms of cm/karras_diffusion.py::KarrasDenoiser.consistency_losses (loss_norm = "l1" | "l2" | "l2-32" | "lpips").
namespace ConsistencyModels.Training;

/// <summary>The distance between the online and target denoised images (upstream <c>--loss_norm</c>).</summary>
public enum LossNorm
{
    /// <summary>"l1": mean |Δ| per sample.</summary>
    L1,
    /// <summary>"l2": mean Δ² per sample.</summary>
    L2,
    /// <summary>"l2-32": both images bilinear-resized to 32×32 (align_corners=False), then mean Δ².</summary>
    L2At32,
    /// <summary>"lpips": an injected perceptual distance on (x+1)/2, after a bilinear resize to 224 below 256 px.</summary>
    Lpips,
    /// <summary>
    /// "pseudo-huber" (improved consistency training, Song &amp; Dhariwal 2023, §3.3): sqrt(‖Δ‖² + c²) − c with the
    /// squared L2 norm over the whole sample and c = 0.00054·√d, d = C·H·W. Not in the released code.
    /// </summary>
    PseudoHuber,
}
