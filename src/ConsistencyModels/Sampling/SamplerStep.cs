// Progress/observation record handed to sampler callbacks (k-diffusion's callback dict, typed).
using static TorchSharp.torch;

namespace ConsistencyModels.Sampling;

/// <summary>One network evaluation finished: <paramref name="Evaluation"/> of <paramref name="TotalEvaluations"/>, at σ.</summary>
public sealed record SamplerStep(int Evaluation, int TotalEvaluations, double Sigma, Tensor Denoised);

/// <summary>Helpers shared by the ODE samplers (cm/karras_diffusion.py::to_d, append_dims).</summary>
internal static class SamplerMath
{
    /// <summary>Karras ODE derivative (x − D) / σ with σ a 0-d float32 tensor.</summary>
    public static Tensor ToD(Tensor x, Tensor sigma, Tensor denoised)
    {
        using var diff = x - denoised;
        using var s = Diffusion.KarrasDenoiser.AppendDims(sigma, x.dim());
        return diff / s;
    }

    /// <summary>σ·ones([N]) as upstream's <c>sigma * s_in</c> (float32).</summary>
    public static Tensor Batch(Tensor sigma0d, Tensor sIn) => sigma0d * sIn;

    public static Tensor OnesFor(Tensor x) => ones(x.shape[0], dtype: x.dtype, device: x.device);

    /// <summary>
    /// EDM churn (Karras et al. 2022, Algorithm 2 lines 4-6), shared by the Heun and DPM samplers: γ from the knobs
    /// (in double, as upstream), a noise draw at every step even when γ = 0 (keeps the RNG stream in step), and
    /// x raised to σ̂ = σ·(γ+1) only when γ > 0. Returns the new x (x itself when γ = 0) and σ̂ as a 0-d tensor.
    /// </summary>
    public static (Tensor x, Tensor sigmaHat) Churn(Tensor x, Tensor sigma, int numSigmas, ISampleGenerator rng, ChurnOptions o)
    {
        float s = sigma.item<float>();
        double gamma = (float)o.STmin <= s && s <= (float)o.STmax ? Math.Min(o.SChurn / (numSigmas - 1), Math.Sqrt(2) - 1) : 0.0;
        var eps = rng.RandnLike(x) * o.SNoise;
        var sigmaHat = sigma * (gamma + 1);
        return (gamma > 0 ? x + eps * (sigmaHat.pow(2) - sigma.pow(2)).pow(0.5) : x, sigmaHat);
    }
}
