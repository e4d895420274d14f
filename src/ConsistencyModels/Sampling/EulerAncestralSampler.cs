// Ancestral Euler sampler — port of cm/karras_diffusion.py::sample_euler_ancestral (+ get_ancestral_step).
using ConsistencyModels.Diffusion;
using static TorchSharp.torch;

namespace ConsistencyModels.Sampling;

public static class EulerAncestralSampler
{
    /// <summary>steps evaluations; one noise draw after each Euler step (also the last, where σ_up = 0).</summary>
    public static Tensor Sample(Denoiser f, Tensor x, Tensor sigmas, ISampleGenerator rng, Action<SamplerStep>? callback = null)
    {
        int n = (int)sigmas.shape[0];
        using var sIn = SamplerMath.OnesFor(x);
        return SamplerLoop.Run(x, n - 1, (i, x) =>
        {
            var sigmaFrom = sigmas[i];
            var sigmaTo = sigmas[i + 1];
            var denoised = f(x, SamplerMath.Batch(sigmaFrom, sIn));
            callback?.Invoke(new SamplerStep(i + 1, n - 1, sigmaFrom.item<float>(), denoised));
            var sigmaUp = (sigmaTo.pow(2) * (sigmaFrom.pow(2) - sigmaTo.pow(2)) / sigmaFrom.pow(2)).pow(0.5);
            var sigmaDown = (sigmaTo.pow(2) - sigmaUp.pow(2)).pow(0.5);
            var d = SamplerMath.ToD(x, sigmaFrom, denoised);
            x = x + d * (sigmaDown - sigmaFrom);
            return x + rng.RandnLike(x) * sigmaUp;
        });
    }
}
