// Euler sampler of the progressive-distillation baseline — port of cm/karras_diffusion.py::sample_progdist.
using ConsistencyModels.Diffusion;
using static TorchSharp.torch;

namespace ConsistencyModels.Sampling;

public static class ProgDistSampler
{
    /// <summary>Same Euler step as EulerSampler (upstream keeps two functions too); differs in the grid it is given.
    /// Expects the (steps+1)-point grid with its trailing 0; drops the 0 and stops at σ_min (steps evaluations).</summary>
    public static Tensor Sample(Denoiser f, Tensor x, Tensor sigmasWithZero, Action<SamplerStep>? callback = null)
    {
        using var sigmas = sigmasWithZero[..^1];
        int n = (int)sigmas.shape[0];
        using var sIn = SamplerMath.OnesFor(x);
        var input = x;
        for (int i = 0; i < n - 1; i++)
        {
            using var scope = NewDisposeScope();
            var prev = x;
            var sigma = sigmas[i];
            var denoised = f(x, SamplerMath.Batch(sigma, sIn));
            callback?.Invoke(new SamplerStep(i + 1, n - 1, sigma.item<float>(), denoised));
            var d = SamplerMath.ToD(x, sigma, denoised);
            x = SamplerMath.Advance(prev, x + d * (sigmas[i + 1] - sigma), input);
        }
        return ReferenceEquals(x, input) ? x.alias() : x;
    }
}
