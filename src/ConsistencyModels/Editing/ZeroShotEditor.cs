// Zero-shot editing, Song et al. (2023) Algorithm 4 — cm/karras_diffusion.py::iterative_{colorization,inpainting,superres}:
// the multistep sampler with a projection onto the reference after every evaluation.
using ConsistencyModels.Diffusion;
using ConsistencyModels.Sampling;
using static TorchSharp.torch;

namespace ConsistencyModels.Editing;

public static class ZeroShotEditor
{
    /// <summary>
    /// The starting point x = A⁻¹[(A y)(1 − Ω)] + t₁·z with z drawn from <paramref name="rng"/> (the first draw) and
    /// t₁ = σ(ts[0]). (The official functions take x from the caller; their demos pass y + t₁·z.)
    /// </summary>
    public static Tensor Start(EditOperator op, Tensor reference, ISampleGenerator rng, MultistepOptions o)
    {
        using var scope = NewDisposeScope();
        double t1 = o.Levels()[0];
        var z = rng.RandnLike(reference);
        return (op.Degrade(reference) + z * t1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The official iterative_* loop: the multistep consistency sampler from <paramref name="x"/> on the
    /// <see cref="Project">projected</see> denoiser, so every x₀ keeps the reference's known part before it is re-noised
    /// (a noise tensor is drawn after every evaluation, the last one scaled by 0, as upstream). Returns the edited images
    /// and the degraded reference.
    /// </summary>
    public static (Tensor Edited, Tensor Degraded) Run(Denoiser f, Tensor x, Tensor reference, EditOperator op, ISampleGenerator rng,
                                                       MultistepOptions o, Action<SamplerStep>? callback = null)
    {
        var degraded = op.Degrade(reference);
        return (MultistepSampler.Sample(Project(f, op, degraded), x, rng, o, callback), degraded);
    }

    /// <summary>
    /// The denoiser followed by the edit's projection: x₀ = clamp(f(x, t), −1, 1) with the known part of
    /// <paramref name="degraded"/> put back, A⁻¹[(A y)·known + (A x₀)·(1 − known)] (upstream's <c>replacement</c>).
    /// </summary>
    public static Denoiser Project(Denoiser f, EditOperator op, Tensor degraded) =>
        (x, sigma) => op.Replace(degraded, f(x, sigma).clamp(-1.0, 1.0));
}
