// Stochastic Heun sampler, Karras et al. (2022) Algorithm 2 — port of cm/karras_diffusion.py::sample_heun.
using ConsistencyModels.Diffusion;
using static TorchSharp.torch;

namespace ConsistencyModels.Sampling;

/// <summary>EDM churn knobs (<c>--s_churn --s_tmin --s_tmax --s_noise</c>); the defaults give the deterministic ODE solver.</summary>
public sealed record ChurnOptions(double SChurn = 0.0, double STmin = 0.0, double STmax = double.PositiveInfinity, double SNoise = 1.0);

public static class HeunSampler
{
    /// <summary>2·steps − 1 evaluations; a noise tensor is drawn at every step even when γ = 0 (keeps the RNG stream in step).</summary>
    public static Tensor Sample(Denoiser f, Tensor x, Tensor sigmas, ISampleGenerator rng, ChurnOptions o, Action<SamplerStep>? callback = null)
    {
        int n = (int)sigmas.shape[0], total = 2 * (n - 1) - 1, nfe = 0;
        using var sIn = SamplerMath.OnesFor(x);
        return SamplerLoop.Run(x, n - 1, (i, x) =>
        {
            var sigma = sigmas[i];
            (x, var sigmaHat) = SamplerMath.Churn(x, sigma, n, rng, o);
            var denoised = f(x, SamplerMath.Batch(sigmaHat, sIn));
            callback?.Invoke(new SamplerStep(++nfe, total, sigmaHat.item<float>(), denoised));
            var d = SamplerMath.ToD(x, sigmaHat, denoised);
            var sigmaNext = sigmas[i + 1];
            var dt = sigmaNext - sigmaHat;
            if (sigmaNext.item<float>() == 0) return x + d * dt;                     // Euler step to 0.
            var x2 = x + d * dt;                                                     // Apply 2nd order correction.
            var denoised2 = f(x2, SamplerMath.Batch(sigmaNext, sIn));
            callback?.Invoke(new SamplerStep(++nfe, total, sigmaNext.item<float>(), denoised2));
            var d2 = SamplerMath.ToD(x2, sigmaNext, denoised2);
            return x + (d + d2) / 2 * dt;
        });
    }
}
