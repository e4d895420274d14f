// Zero-shot editing, Song et al. (2023) Algorithm 4 — the loop of cm/karras_diffusion.py::iterative_{colorization,inpainting,superres}.
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
        double t1 = KarrasSchedule.SigmaAt(o.Ts[0], o.Steps, o.SigmaMin, o.SigmaMax, o.Rho);
        var z = rng.RandnLike(reference);
        return (op.Degrade(reference) + z * t1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Runs the loop from <paramref name="x"/>: per index, x₀ = clamp(f(x, t), −1, 1), the reference's known part put
    /// back (A⁻¹[(A y)·known + (A x₀)·(1 − known)]), then re-noised to the next level (a noise tensor is drawn after every
    /// evaluation, the last one scaled by 0, as upstream). Returns the edited images and the degraded reference.
    /// </summary>
    public static (Tensor Edited, Tensor Degraded) Run(Denoiser f, Tensor x, Tensor reference, EditOperator op, ISampleGenerator rng,
                                                       MultistepOptions o, Action<SamplerStep>? callback = null)
    {
        o.Validate();
        var images = op.Degrade(reference);
        using var sIn = ones(x.shape[0], dtype: x.dtype, device: x.device);
        int total = o.Ts.Count - 1;
        var current = x;
        for (int i = 0; i < total; i++)
        {
            using var scope = NewDisposeScope();
            double t = KarrasSchedule.SigmaAt(o.Ts[i], o.Steps, o.SigmaMin, o.SigmaMax, o.Rho);
            var x0 = f(current, sIn * t).clamp(-1.0, 1.0);
            x0 = op.Replace(images, x0);
            callback?.Invoke(new SamplerStep(i + 1, total, t, x0));
            double nextT = Math.Clamp(KarrasSchedule.SigmaAt(o.Ts[i + 1], o.Steps, o.SigmaMin, o.SigmaMax, o.Rho), o.SigmaMin, o.SigmaMax);
            var next = x0 + rng.RandnLike(current) * Math.Sqrt(nextT * nextT - o.SigmaMin * o.SigmaMin);
            next.MoveToOuterDisposeScope();
            if (!ReferenceEquals(current, x)) current.Dispose();
            current = next;
        }
        return (ReferenceEquals(current, x) ? x.alias() : current, images);
    }
}
