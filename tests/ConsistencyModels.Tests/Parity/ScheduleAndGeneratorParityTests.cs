// Karras grids (float32) and the three official generators' CPU draws.
using ConsistencyModels.Diffusion;
using ConsistencyModels.Sampling;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Parity;

public class ScheduleAndGeneratorParityTests
{
    [SkippableTheory]
    [InlineData(10)]
    [InlineData(11)]
    [InlineData(18)]
    [InlineData(40)]
    [InlineData(151)]
    [InlineData(201)]
    public void KarrasGridMatchesToTheUlp(int n)
    {
        var f = Fixture.Open("sigmas.pt");
        using var sigmas = KarrasSchedule.GetSigmasKarras(n);
        // The fixtures come from PyTorch 1.13, whose float32 linspace/pow kernels round some interior points
        // differently from libtorch 2.10 (vectorised arange chunks, Sleef vs std::pow): 1 ulp in the ramp becomes
        // ~7 ulp after **7, up to 1.7e-6 relative. The ends (σ_max's 79.999985 and σ_min) are exact.
        Close.Assert(f[$"karras.{n}"], sigmas, 0, 3e-6, $"karras.{n}");
        Assert.Equal(f[$"karras.{n}"][0].item<float>(), sigmas[0].item<float>());
        Assert.Equal(f[$"karras.{n}"][n - 1].item<float>(), sigmas[n - 1].item<float>());
        Assert.Equal(0f, sigmas[n].item<float>());
        Assert.NotEqual(80f, sigmas[0].item<float>());      // 79.999985: the float32 pitfall is reproduced
    }

    [SkippableTheory]
    [InlineData(GeneratorKind.Determ, "determ")]
    [InlineData(GeneratorKind.DetermIndiv, "determ-indiv")]
    public void GeneratorDrawsAreBitExact(GeneratorKind kind, string prefix)
    {
        var f = Fixture.Open("generators.pt");
        var g = SampleGenerators.Create(kind, numSamples: 6, seed: 234);
        Assert.Equal(0.0, Close.MaxAbsDiff(f[$"{prefix}.randn.0"], g.Randn([2, 3, 4, 4])));
        Assert.Equal(0.0, Close.MaxAbsDiff(f[$"{prefix}.randn_like.1"], g.RandnLike(zeros(2, 3, 4, 4))));
        g.SetDoneSamples(2);
        Assert.Equal(0.0, Close.MaxAbsDiff(f[$"{prefix}.randn.after_set_done_2"], g.Randn([2, 3, 4, 4])));
        Assert.Equal(f[$"{prefix}.randint"].data<long>().ToArray(), g.Randint(0, 1000, [2]).data<long>().ToArray());
    }

    [Fact]
    public void DetermGeneratorDoesNotDependOnBatchSize()
    {
        var whole = SampleGenerators.Create(GeneratorKind.Determ, 6, 5);
        using var all = whole.Randn([6, 3, 2, 2]);
        var split = SampleGenerators.Create(GeneratorKind.Determ, 6, 5);
        split.SetDoneSamples(0);
        using var a = split.Randn([4, 3, 2, 2]);
        split.SetDoneSamples(4);
        using var b = split.Randn([2, 3, 2, 2]);
        Assert.Equal(0.0, Close.MaxAbsDiff(all, cat([a, b])));
    }
}
