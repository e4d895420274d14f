// Euler sampler of the progressive-distillation baseline — port of cm/karras_diffusion.py::sample_progdist.
using ConsistencyModels.Diffusion;
using static TorchSharp.torch;

namespace ConsistencyModels.Sampling;

public static class ProgDistSampler
{
    /// <summary>
    /// Expects the (steps+1)-point grid with its trailing 0; drops the 0 and takes Euler steps down to σ_min
    /// (steps evaluations). Upstream's loop body is sample_euler's, so this is Euler on the trimmed grid.
    /// </summary>
    public static Tensor Sample(Denoiser f, Tensor x, Tensor sigmasWithZero, Action<SamplerStep>? callback = null)
    {
        using var sigmas = sigmasWithZero[..^1];
        return EulerSampler.Sample(f, x, sigmas, callback);
    }
}
