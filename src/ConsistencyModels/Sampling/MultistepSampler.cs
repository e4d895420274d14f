// Multistep consistency sampling, Song et al. (2023) Algorithm 1 — port of
// cm/karras_diffusion.py::stochastic_iterative_sampler.
using ConsistencyModels.Diffusion;
using static TorchSharp.torch;

namespace ConsistencyModels.Sampling;

/// <summary><c>ts</c>: ascending indices into a <c>steps</c>-point Karras grid, ending at steps − 1 (e.g. 0,22,39 of 40).</summary>
public sealed record MultistepOptions(IReadOnlyList<int> Ts, int Steps, double SigmaMin = 0.002, double SigmaMax = 80.0, double Rho = 7.0)
{
    /// <summary>
    /// Throws with a clear message when ts would make the official code silently return noisy images
    /// (GitHub issue #7): not ascending, outside [0, steps−1], or not ending at steps−1.
    /// </summary>
    public MultistepOptions Validate()
    {
        if (Steps < 2) throw new ArgumentException($"multistep sampling needs steps >= 2 (got {Steps})");
        if (Ts.Count < 2) throw new ArgumentException($"ts needs at least two indices, e.g. 0,{Steps - 1} (got {Ts.Count})");
        for (int i = 0; i < Ts.Count; i++)
        {
            if (Ts[i] < 0 || Ts[i] > Steps - 1)
                throw new ArgumentException($"ts index {Ts[i]} is outside [0, {Steps - 1}] (steps = {Steps} grid points)");
            if (i > 0 && Ts[i] <= Ts[i - 1])
                throw new ArgumentException($"ts must be strictly ascending grid indices (got {string.Join(",", Ts)})");
        }
        if (Ts[^1] != Steps - 1)
            throw new ArgumentException(
                $"ts must end at steps-1 = {Steps - 1} (got {Ts[^1]}): the last index sets the final noise level; " +
                $"ending earlier leaves noise of σ = {KarrasSchedule.SigmaAt(Ts[^1], Steps, SigmaMin, SigmaMax, Rho):G4} in the images");
        return this;
    }
}

public static class MultistepSampler
{
    /// <summary>ts.Count − 1 evaluations; a noise tensor is drawn after each, including the last one (scaled by 0).</summary>
    public static Tensor Sample(Denoiser f, Tensor x, ISampleGenerator rng, MultistepOptions o, Action<SamplerStep>? callback = null)
    {
        o.Validate();
        using var sIn = SamplerMath.OnesFor(x);
        int total = o.Ts.Count - 1;
        return SamplerLoop.Run(x, total, (i, x) =>
        {
            double t = KarrasSchedule.SigmaAt(o.Ts[i], o.Steps, o.SigmaMin, o.SigmaMax, o.Rho);
            var x0 = f(x, sIn * t);
            callback?.Invoke(new SamplerStep(i + 1, total, t, x0));
            double nextT = Math.Clamp(KarrasSchedule.SigmaAt(o.Ts[i + 1], o.Steps, o.SigmaMin, o.SigmaMax, o.Rho), o.SigmaMin, o.SigmaMax);
            return x0 + rng.RandnLike(x) * Math.Sqrt(nextT * nextT - o.SigmaMin * o.SigmaMin);
        });
    }
}
