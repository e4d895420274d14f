// Denoising, Song et al. (2023) §5.3: one evaluation f(x, σ) of a consistency model at the image's noise level.
using ConsistencyModels.Diffusion;
using ConsistencyModels.Sampling;
using static TorchSharp.torch;

namespace ConsistencyModels.Editing;

public static class Denoising
{
    /// <summary>The official notebook's level: index 5 counted from σ_min on the 18-point grid (σ ≈ 0.2964).</summary>
    public static double DefaultSigma => KarrasSchedule.SigmaAt(12, 18);

    /// <summary>y + σ·z with z from <paramref name="rng"/>: a clean image made noisy, to try denoising on.</summary>
    public static Tensor AddNoise(Tensor clean, double sigma, ISampleGenerator rng)
    {
        using var z = rng.RandnLike(clean);
        return clean + z * sigma;
    }

    /// <summary>f(x, σ) (clamped to [−1, 1] by the denoiser).</summary>
    public static Tensor Denoise(Denoiser f, Tensor noisy, double sigma, Action<SamplerStep>? callback = null)
    {
        if (!(sigma > 0)) throw new ArgumentException($"`Sigma` must be positive (got {sigma})");
        using var s = full(noisy.shape[0], sigma, dtype: noisy.dtype, device: noisy.device);
        var clean = f(noisy, s);
        callback?.Invoke(new SamplerStep(1, 1, sigma, clean));
        return clean;
    }
}
