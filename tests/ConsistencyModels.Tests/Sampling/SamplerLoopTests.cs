// The samplers' shared loop: the caller's input survives, intermediate states are freed, zero iterations give an alias;
// a cancelled token stops every sampler before its next network evaluation.
using ConsistencyModels.Diffusion;
using ConsistencyModels.Nn;
using ConsistencyModels.Sampling;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Sampling;

public class SamplerLoopTests
{
    [Fact]
    public void OnlyTheResultLeavesTheLoop()
    {
        using var x = ones(2, 3);
        var states = new List<Tensor>();
        using var result = SamplerLoop.Run(x, 3, (i, state) =>
        {
            states.Add(state);
            return state * 2 + i;
        });
        Assert.Equal(new float[] { 12, 12, 12, 12, 12, 12 }, result.data<float>().ToArray());   // ((1·2 + 0)·2 + 1)·2 + 2
        Assert.Same(x, states[0]);
        Assert.False(x.IsInvalid);                                       // the caller's input is the caller's
        Assert.True(states[1].IsInvalid && states[2].IsInvalid);         // intermediate states are freed
    }

    [Fact]
    public void ZeroIterationsReturnAnAliasTheCallerMayDispose()
    {
        using var x = ones(2);
        var result = SamplerLoop.Run(x, 0, (_, state) => throw new InvalidOperationException("not called"));
        Assert.NotSame(x, result);
        result.Dispose();
        Assert.Equal(2f, x.sum().item<float>());
    }

    [Theory]
    [InlineData(SamplerKind.Heun)]
    [InlineData(SamplerKind.Euler)]
    [InlineData(SamplerKind.Dpm)]
    public void ACancelledTokenStopsTheSamplerBetweenEvaluations(SamplerKind sampler)
    {
        using var cancel = new CancellationTokenSource();
        int calls = 0;
        Denoiser f = (x, sigma) =>
        {
            if (++calls == 3) cancel.Cancel();
            return zeros_like(x);
        };
        using var rng = SampleGenerators.Create(GeneratorKind.Determ, 2, 0);
        var options = new SamplingOptions { Sampler = sampler, Steps = 1000 };
        Assert.Throws<OperationCanceledException>(() =>
            KarrasSample.Sample(f, [2, 1, 4, 4], options, rng, new KarrasDenoiser(DenoiserKind.Consistency), cancel: cancel.Token));
        Assert.Equal(3, calls);
    }
}
