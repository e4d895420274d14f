// Sampler dispatch: x_T = randn · σ_max, run the chosen sampler, clamp — port of cm/karras_diffusion.py::karras_sample.
using ConsistencyModels.Diffusion;
using static TorchSharp.torch;

namespace ConsistencyModels.Sampling;

/// <summary>The samplers of the official code (<c>--sampler</c>).</summary>
public enum SamplerKind { Onestep, Multistep, Heun, Euler, Dpm, Ancestral, ProgDist }

/// <summary>All sampler knobs in one immutable record; only the ones the chosen sampler uses matter.</summary>
public sealed record SamplingOptions
{
    public SamplerKind Sampler { get; init; } = SamplerKind.Onestep;
    /// <summary>Karras grid size: N of the training grid for multistep (40 CD, 201/151 CT), the number of steps for Heun etc.</summary>
    public int Steps { get; init; } = 40;
    /// <summary>Multistep grid indices, e.g. [0, 22, 39].</summary>
    public IReadOnlyList<int>? Ts { get; init; }
    public ChurnOptions Churn { get; init; } = new();
    public bool ClipDenoised { get; init; } = true;

    /// <summary>Network evaluations per sample for these options.</summary>
    public int Evaluations => Sampler switch
    {
        SamplerKind.Onestep => 1,
        SamplerKind.Multistep => (Ts?.Count ?? 1) - 1,
        SamplerKind.Heun => 2 * Steps - 1,
        SamplerKind.Dpm => 2 * Steps,
        _ => Steps,
    };

    public SamplingOptions Validate(double sigmaMin = 0.002, double sigmaMax = 80, double rho = 7)
    {
        if (Steps < 1) throw new ArgumentException($"steps must be >= 1 (got {Steps})");
        if (Sampler == SamplerKind.Multistep)
        {
            if (Ts is null || Ts.Count == 0)
                throw new ArgumentException("the multistep sampler needs `Ts`, e.g. `Ts` 0,22,39 `Steps` 40");
            new MultistepOptions(Ts, Steps, sigmaMin, sigmaMax, rho).Validate();
        }
        if (Churn.SChurn < 0 || Churn.SNoise < 0) throw new ArgumentException("s_churn and s_noise must be >= 0");
        return this;
    }
}

public static class KarrasSample
{
    /// <summary>Draws x_T from <paramref name="rng"/> and samples; returns images in [-1, 1].</summary>
    public static Tensor Sample(Denoiser f, long[] shape, SamplingOptions o, ISampleGenerator rng, KarrasDenoiser d,
                                Device? device = null, Action<SamplerStep>? callback = null)
    {
        o.Validate(d.SigmaMin, d.SigmaMax, d.Rho);
        using var scope = NewDisposeScope();
        var sigmas = KarrasSchedule.GetSigmasKarras(o.Sampler == SamplerKind.ProgDist ? o.Steps + 1 : o.Steps, d.SigmaMin, d.SigmaMax, d.Rho, device);
        var xT = rng.Randn(shape, device) * d.SigmaMax;
        var x = o.Sampler switch
        {
            SamplerKind.Onestep => OnestepSampler.Sample(f, xT, sigmas, callback),
            SamplerKind.Multistep => MultistepSampler.Sample(f, xT, rng, new MultistepOptions(o.Ts!, o.Steps, d.SigmaMin, d.SigmaMax, d.Rho), callback),
            SamplerKind.Heun => HeunSampler.Sample(f, xT, sigmas, rng, o.Churn, callback),
            SamplerKind.Euler => EulerSampler.Sample(f, xT, sigmas, callback),
            SamplerKind.Dpm => DpmSampler.Sample(f, xT, sigmas, rng, o.Churn, callback),
            SamplerKind.Ancestral => EulerAncestralSampler.Sample(f, xT, sigmas, rng, callback),
            SamplerKind.ProgDist => ProgDistSampler.Sample(f, xT, sigmas, callback),
            _ => throw new ArgumentOutOfRangeException(nameof(o)),
        };
        return x.clamp(-1.0, 1.0).MoveToOuterDisposeScope();
    }
}
