// Every sampler against sampling_*.pt: recorded noise replayed in order, traced sigmas and outputs compared.
using ConsistencyModels.Diffusion;
using ConsistencyModels.Nn;
using ConsistencyModels.Sampling;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Parity;

public class SamplerParityTests
{
    public static TheoryData<string, string, SamplerKind, int, int[]?, double, double, double> Cases => new()
    {
        // file, prefix, sampler, steps, ts, s_churn, s_tmin, s_tmax
        { "imagenet64", "onestep", SamplerKind.Onestep, 40, null, 0, 0, double.PositiveInfinity },
        { "imagenet64", "multistep", SamplerKind.Multistep, 40, new[] { 0, 22, 39 }, 0, 0, double.PositiveInfinity },
        { "imagenet64", "heun", SamplerKind.Heun, 10, null, 0, 0, double.PositiveInfinity },
        { "imagenet64", "heun_churn", SamplerKind.Heun, 10, null, 10, 0.05, 50 },
        { "imagenet64", "euler", SamplerKind.Euler, 10, null, 0, 0, double.PositiveInfinity },
        { "imagenet64", "dpm", SamplerKind.Dpm, 10, null, 0, 0, double.PositiveInfinity },
        { "imagenet64", "euler_ancestral", SamplerKind.Ancestral, 10, null, 0, 0, double.PositiveInfinity },
        { "imagenet64", "progdist", SamplerKind.ProgDist, 10, null, 0, 0, double.PositiveInfinity },
        { "lsun256", "onestep", SamplerKind.Onestep, 151, null, 0, 0, double.PositiveInfinity },
        { "lsun256", "multistep", SamplerKind.Multistep, 151, new[] { 0, 67, 150 }, 0, 0, double.PositiveInfinity },
    };

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void SamplerMatchesOfficial(string which, string prefix, SamplerKind kind, int steps, int[]? ts, double churn, double tmin, double tmax)
    {
        var f = Fixture.Open($"sampling_{which}.pt");
        bool edm = kind is not (SamplerKind.Onestep or SamplerKind.Multistep);
        var model = FixtureModels.Get(which, edm ? DenoiserKind.Edm : DenoiserKind.Consistency);
        using var _ = no_grad();
        using var scope = NewDisposeScope();

        var pre = KarrasDenoiser.FromConfig(model.Config);
        var y = f.Has("y") ? f["y"] : null;
        var traceSigma = new List<Tensor>();
        // Record the sigma of every network call and its unclamped output, as the fixture's trace does.
        var traceDenoised = new List<Tensor>();
        Denoiser denoiser = (x, sigma) =>
        {
            var (_, d) = pre.Denoise((xi, t, yy) => model.call(xi, t, yy), x, sigma, y);
            traceSigma.Add(sigma.clone().DetachFromDisposeScope());
            traceDenoised.Add(d.clone().DetachFromDisposeScope());
            return d.clamp(-1, 1);
        };
        var rng = ReplayGenerator.FromFixture(f, prefix);
        var options = new SamplingOptions { Sampler = kind, Steps = steps, Ts = ts, Churn = new ChurnOptions(churn, tmin, tmax) };
        var expectedOut = f[$"{prefix}.out"];
        var outT = KarrasSample.Sample(denoiser, expectedOut.shape, options, rng, pre);

        var expectedSigmas = f[$"{prefix}.trace.sigma"];
        Assert.Equal(expectedSigmas.shape[0], traceSigma.Count);                 // same number of evaluations
        Assert.Equal(rng.Used, (int)f.Keys.Count(k => k.StartsWith(prefix + ".noise.")));   // same number of draws
        Close.Assert(expectedSigmas, stack(traceSigma), 0, 1e-6, $"{prefix} sigmas");
        var expectedDenoised = f[$"{prefix}.trace.denoised"];
        for (int i = 0; i < traceDenoised.Count; i++)
            Close.Assert(expectedDenoised[i], traceDenoised[i], 1e-4, 1e-5, $"{prefix} evaluation {i}");
        Close.Assert(expectedOut, outT, 1e-4, 1e-5, $"{prefix} output");
    }
}
