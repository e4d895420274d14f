// DPM-Solver-2 style midpoint sampler with EDM churn — port of cm/karras_diffusion.py::sample_dpm.
using ConsistencyModels.Diffusion;
using static TorchSharp.torch;

namespace ConsistencyModels.Sampling;

public static class DpmSampler
{
    /// <summary>2·steps evaluations; the midpoint is on a ρ = 3 interpolation; one noise draw per step.</summary>
    public static Tensor Sample(Denoiser f, Tensor x, Tensor sigmas, ISampleGenerator rng, ChurnOptions o, Action<SamplerStep>? callback = null)
    {
        int n = (int)sigmas.shape[0], total = 2 * (n - 1), nfe = 0;
        using var sIn = SamplerMath.OnesFor(x);
        return SamplerLoop.Run(x, n - 1, (i, x) =>
        {
            var sigma = sigmas[i];
            (x, var sigmaHat) = SamplerMath.Churn(x, sigma, n, rng, o);
            var denoised = f(x, SamplerMath.Batch(sigmaHat, sIn));
            callback?.Invoke(new SamplerStep(++nfe, total, sigmaHat.item<float>(), denoised));
            var d = SamplerMath.ToD(x, sigmaHat, denoised);
            var sigmaNext = sigmas[i + 1];
            var sigmaMid = ((sigmaHat.pow(1.0 / 3) + sigmaNext.pow(1.0 / 3)) / 2).pow(3);
            var dt1 = sigmaMid - sigmaHat;
            var dt2 = sigmaNext - sigmaHat;
            var x2 = x + d * dt1;
            var denoised2 = f(x2, SamplerMath.Batch(sigmaMid, sIn));
            callback?.Invoke(new SamplerStep(++nfe, total, sigmaMid.item<float>(), denoised2));
            var d2 = SamplerMath.ToD(x2, sigmaMid, denoised2);
            return x + d2 * dt2;
        });
    }
}
