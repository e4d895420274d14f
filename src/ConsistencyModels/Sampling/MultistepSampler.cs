// Multistep consistency sampling, Song et al. (2023) Algorithm 1 — port of
// cm/karras_diffusion.py::stochastic_iterative_sampler.
using ConsistencyModels.Diffusion;
using static TorchSharp.torch;

namespace ConsistencyModels.Sampling;

/// <summary>
/// <c>ts</c>: ascending indices into a <c>steps</c>-point Karras grid, ending at steps − 1 (e.g. 0,22,39 of 40); or,
/// with <see cref="Sigmas"/>, the noise levels of the evaluations themselves (ECT's two-step 80, 0.821), descending.
/// </summary>
public sealed record MultistepOptions(IReadOnlyList<int> Ts, int Steps, double SigmaMin = 0.002, double SigmaMax = 80.0, double Rho = 7.0)
{
    /// <summary>Explicit evaluation levels instead of <see cref="Ts"/>; the final level is σ_min, as ts's last index.</summary>
    public IReadOnlyList<double>? Sigmas { get; init; }

    /// <summary>From explicit noise levels, one evaluation each (<paramref name="sigmas"/> strictly descending in (σ_min, σ_max]).</summary>
    public static MultistepOptions FromSigmas(IReadOnlyList<double> sigmas, double sigmaMin = 0.002, double sigmaMax = 80.0, double rho = 7.0) =>
        new([], 0, sigmaMin, sigmaMax, rho) { Sigmas = sigmas };

    /// <summary>The σ of every grid point visited: one per evaluation, then the final level.</summary>
    public IReadOnlyList<double> Levels() => Sigmas is { } s
        ? [.. s, SigmaMin]
        : Ts.Select(i => KarrasSchedule.SigmaAt(i, Steps, SigmaMin, SigmaMax, Rho)).ToArray();

    /// <summary>Network evaluations per sample.</summary>
    public int Evaluations => Sigmas?.Count ?? Ts.Count - 1;

    /// <summary>
    /// Throws with a clear message when ts would make the official code silently return noisy images
    /// (GitHub issue #7): not ascending, outside [0, steps−1], or not ending at steps−1.
    /// </summary>
    public MultistepOptions Validate()
    {
        if (Sigmas is { } sigmas)
        {
            if (sigmas.Count == 0) throw new ArgumentException("`Sigmas` needs at least one noise level, e.g. 80,0.821");
            for (int i = 0; i < sigmas.Count; i++)
            {
                if (!(sigmas[i] > SigmaMin && sigmas[i] <= SigmaMax))
                    throw new ArgumentException($"`Sigmas` level {sigmas[i]:G} is outside (σ_min, σ_max] = ({SigmaMin:G}, {SigmaMax:G}]");
                if (i > 0 && sigmas[i] >= sigmas[i - 1])
                    throw new ArgumentException($"`Sigmas` must be strictly descending noise levels (got {string.Join(",", sigmas)})");
            }
            return this;
        }
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
        var levels = o.Levels();
        int total = levels.Count - 1;
        return SamplerLoop.Run(x, total, (i, x) =>
        {
            double t = levels[i];
            var x0 = f(x, sIn * t);
            callback?.Invoke(new SamplerStep(i + 1, total, t, x0));
            double nextT = Math.Clamp(levels[i + 1], o.SigmaMin, o.SigmaMax);
            return x0 + rng.RandnLike(x) * Math.Sqrt(nextT * nextT - o.SigmaMin * o.SigmaMin);
        });
    }
}
