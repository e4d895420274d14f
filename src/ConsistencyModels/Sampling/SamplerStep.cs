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

    /// <summary>
    /// Ends one sampler iteration: moves the new state out of the step's dispose scope and frees the previous state
    /// (unless it is the caller's input, which the caller owns).
    /// </summary>
    public static Tensor Advance(Tensor previous, Tensor next, Tensor callerInput)
    {
        next.MoveToOuterDisposeScope();
        if (!ReferenceEquals(previous, callerInput) && !ReferenceEquals(previous, next)) previous.Dispose();
        return next;
    }

    public static Tensor OnesFor(Tensor x) => ones(x.shape[0], dtype: x.dtype, device: x.device);

    /// <summary>EDM churn factor γ_i (upstream computes it in double).</summary>
    public static double Gamma(float sigma, int numSigmas, double sChurn, double sTmin, double sTmax) =>
        (float)sTmin <= sigma && sigma <= (float)sTmax ? Math.Min(sChurn / (numSigmas - 1), Math.Sqrt(2) - 1) : 0.0;
}
