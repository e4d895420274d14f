// One-step consistency sampling, x_0 = f(x_T, T) — port of cm/karras_diffusion.py::sample_onestep.
using ConsistencyModels.Diffusion;
using static TorchSharp.torch;

namespace ConsistencyModels.Sampling;

public static class OnestepSampler
{
    /// <summary>One evaluation at σ_0 of the float32 Karras grid (79.999985, not 80, as upstream).</summary>
    public static Tensor Sample(Denoiser f, Tensor x, Tensor sigmas, Action<SamplerStep>? callback = null)
    {
        using var sIn = SamplerMath.OnesFor(x);
        using var sigma0 = sigmas[0];
        using var batchSigma = SamplerMath.Batch(sigma0, sIn);
        var denoised = f(x, batchSigma);
        callback?.Invoke(new SamplerStep(1, 1, sigma0.item<float>(), denoised));
        return denoised;
    }
}
