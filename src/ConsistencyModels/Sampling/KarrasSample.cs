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
    /// <summary>Multistep noise levels instead of <see cref="Ts"/>, descending, one evaluation each (e.g. ECT's [80, 0.821]).</summary>
    public IReadOnlyList<double>? Sigmas { get; init; }
    public ChurnOptions Churn { get; init; } = new();
    public bool ClipDenoised { get; init; } = true;

    /// <summary>Network evaluations per sample for these options.</summary>
    public int Evaluations => Sampler switch
    {
        SamplerKind.Onestep => 1,
        SamplerKind.Multistep => Sigmas?.Count ?? (Ts?.Count ?? 1) - 1,
        SamplerKind.Heun => 2 * Steps - 1,
        SamplerKind.Dpm => 2 * Steps,
        _ => Steps,
    };

    public SamplingOptions Validate(double sigmaMin = 0.002, double sigmaMax = 80, double rho = 7)
    {
        if (Steps < 1) throw new ArgumentException($"steps must be >= 1 (got {Steps})");
        if (Sampler == SamplerKind.Multistep)
        {
            if (Ts is not null && Sigmas is not null) throw new ArgumentException("give `Ts` or `Sigmas`, not both");
            if ((Ts is null || Ts.Count == 0) && Sigmas is null)
                throw new ArgumentException("the multistep sampler needs `Ts`, e.g. `Ts` 0,22,39 `Steps` 40, or `Sigmas`, e.g. 80,0.821");
            Multistep(sigmaMin, sigmaMax, rho).Validate();
        }
        else if (Sigmas is not null) throw new ArgumentException($"`Sigmas` only applies to the multistep `Sampler` (the sampler is {Sampler.ToString().ToLowerInvariant()})");
        if (Churn.SChurn < 0 || Churn.SNoise < 0) throw new ArgumentException("s_churn and s_noise must be >= 0");
        return this;
    }

    /// <summary>The multistep sampler's options: <see cref="Sigmas"/> when given, else <see cref="Ts"/> on the <see cref="Steps"/> grid.</summary>
    public MultistepOptions Multistep(double sigmaMin, double sigmaMax, double rho) => Sigmas is { } s
        ? MultistepOptions.FromSigmas(s, sigmaMin, sigmaMax, rho)
        : new MultistepOptions(Ts!, Steps, sigmaMin, sigmaMax, rho);
}

public static class KarrasSample
{
    /// <summary>
    /// Draws x_T from <paramref name="rng"/> and samples; returns images in [-1, 1]. <paramref name="cancel"/> is
    /// observed before every network evaluation (<see cref="OperationCanceledException"/>).
    /// </summary>
    public static Tensor Sample(Denoiser f, long[] shape, SamplingOptions o, ISampleGenerator rng, KarrasDenoiser d,
                                Device? device = null, Action<SamplerStep>? callback = null, CancellationToken cancel = default)
    {
        o.Validate(d.SigmaMin, d.SigmaMax, d.Rho);
        f = f.Cancellable(cancel);
        using var scope = NewDisposeScope();
        var sigmas = KarrasSchedule.GetSigmasKarras(o.Sampler == SamplerKind.ProgDist ? o.Steps + 1 : o.Steps, d.SigmaMin, d.SigmaMax, d.Rho, device);
        var xT = rng.Randn(shape, device) * d.SigmaMax;
        var x = o.Sampler switch
        {
            SamplerKind.Onestep => OnestepSampler.Sample(f, xT, sigmas, callback),
            SamplerKind.Multistep => MultistepSampler.Sample(f, xT, rng, o.Multistep(d.SigmaMin, d.SigmaMax, d.Rho), callback),
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
