// Feeds recorded noise back to a sampler in call order, checking each draw's shape, so the replay proves that our
// samplers draw the same number of tensors, in the same order and shapes, as the official ones.
using ConsistencyModels.Sampling;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Parity;

internal sealed class ReplayGenerator(IReadOnlyList<Tensor> draws) : ISampleGenerator
{
    private int _next;
    public int Used => _next;

    public Tensor Randn(long[] shape, Device? device = null)
    {
        Xunit.Assert.True(_next < draws.Count, $"sampler drew more noise tensors than the official code ({draws.Count})");
        var t = draws[_next++];
        Xunit.Assert.Equal(t.shape, shape);
        return t.clone();
    }

    public Tensor Randint(long low, long high, long[] shape, Device? device = null) => throw new NotSupportedException();
    public void SetDoneSamples(int doneSamples) { }

    public static ReplayGenerator FromFixture(Fixture f, string prefix)
    {
        var draws = new List<Tensor>();
        for (int i = 0; f.Has($"{prefix}.noise.{i:D3}"); i++) draws.Add(f[$"{prefix}.noise.{i:D3}"]);
        return new ReplayGenerator(draws);
    }
}
