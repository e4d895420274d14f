// Euler ODE sampler — port of cm/karras_diffusion.py::sample_euler.
using ConsistencyModels.Diffusion;
using static TorchSharp.torch;

namespace ConsistencyModels.Sampling;

public static class EulerSampler
{
    /// <summary>steps evaluations; draws no noise.</summary>
    public static Tensor Sample(Denoiser f, Tensor x, Tensor sigmas, Action<SamplerStep>? callback = null)
    {
        int n = (int)sigmas.shape[0];
        using var sIn = SamplerMath.OnesFor(x);
        return SamplerLoop.Run(x, n - 1, (i, x) =>
        {
            var sigma = sigmas[i];
            var denoised = f(x, SamplerMath.Batch(sigma, sIn));
            callback?.Invoke(new SamplerStep(i + 1, n - 1, sigma.item<float>(), denoised));
            var d = SamplerMath.ToD(x, sigma, denoised);
            return x + d * (sigmas[i + 1] - sigma);
        });
    }
}
