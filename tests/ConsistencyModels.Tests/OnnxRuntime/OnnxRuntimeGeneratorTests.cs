// The managed libtorch CPU generator of ConsistencyModels.OnnxRuntime against libtorch itself and the official generators' fixture.
using ConsistencyModels.OnnxRuntime;
using ConsistencyModels.Tests.Parity;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.OnnxRuntime;

public sealed class OnnxRuntimeGeneratorTests
{
    [Theory]
    [InlineData(0UL)]
    [InlineData(42UL)]
    [InlineData(12341UL)]
    [InlineData(0x1_0000_0007UL)]   // libtorch seeds mt19937 with the low 32 bits
    public void RandnEqualsLibtorchDrawForDraw(ulong seed)
    {
        // Sizes: the per-value path (< 16, with its cached second sample across calls), whole blocks of 16, a tail
        // that libtorch recomputes, and an image; drawn in sequence from one stream on both sides.
        int[] sizes = [1, 5, 15, 16, 17, 31, 48, 1000, 3 * 64 * 64, 3, 3 * 256 * 256 + 5];
        var ours = new TorchCpuGenerator(seed);
        using var theirs = new TorchSharp.torch.Generator(seed);
        foreach (int n in sizes)
        {
            using var expected = randn([n], dtype: ScalarType.Float32, generator: theirs);
            var e = expected.data<float>().ToArray();
            var a = ours.Randn(n);
            int mismatches = e.Zip(a, (x, y) => BitConverter.SingleToInt32Bits(x) != BitConverter.SingleToInt32Bits(y)).Count(b => b);
            Assert.True(mismatches == 0, $"seed {seed}, size {n}: {mismatches} of {n} values differ (max |diff| {e.Zip(a, (x, y) => Math.Abs(x - y)).Max():G3})");
        }
    }

    [Theory]
    [InlineData(0L, 1000L, 7)]
    [InlineData(-5L, 5L, 33)]
    [InlineData(0L, 1L << 40, 9)]   // a range past 2^32 takes random64()
    public void RandintEqualsLibtorch(long low, long high, int count)
    {
        var ours = new TorchCpuGenerator(99);
        using var theirs = new TorchSharp.torch.Generator(99);
        using var expected = randint(low, high, [count], dtype: ScalarType.Int64, generator: theirs);
        Assert.Equal(expected.data<long>().ToArray(), ours.Randint(low, high, count));
        using var next = randn([20], generator: theirs);                 // the streams stay in step afterwards
        Assert.Equal(next.data<float>().ToArray(), ours.Randn(20));
    }

    [SkippableTheory]
    [InlineData(NoiseKind.Determ, "determ")]
    [InlineData(NoiseKind.DetermIndiv, "determ-indiv")]
    public void OfficialGeneratorsAreBitExact(NoiseKind kind, string prefix)
    {
        var f = Fixture.Open("generators.pt");
        var g = new NoiseGenerator(kind, numSamples: 6, seed: 234);
        Assert.Equal(f[$"{prefix}.randn.0"].data<float>().ToArray(), g.Randn(2, 3 * 4 * 4));
        Assert.Equal(f[$"{prefix}.randn_like.1"].data<float>().ToArray(), g.Randn(2, 3 * 4 * 4));
        g.SetDoneSamples(2);
        Assert.Equal(f[$"{prefix}.randn.after_set_done_2"].data<float>().ToArray(), g.Randn(2, 3 * 4 * 4));
        Assert.Equal(f[$"{prefix}.randint"].data<long>().ToArray(), g.Randint(0, 1000, 2));
    }

    [Theory]
    [InlineData(NoiseKind.Determ)]
    [InlineData(NoiseKind.DetermIndiv)]
    [InlineData(NoiseKind.Dummy)]
    public void SameDrawsAsTheLibtorchSampleGenerators(NoiseKind kind)
    {
        var libKind = kind switch { NoiseKind.Determ => ConsistencyModels.Sampling.GeneratorKind.Determ, NoiseKind.DetermIndiv => ConsistencyModels.Sampling.GeneratorKind.DetermIndiv, _ => ConsistencyModels.Sampling.GeneratorKind.Dummy };
        using var theirs = ConsistencyModels.Sampling.SampleGenerators.Create(libKind, numSamples: 10, seed: 42);
        var ours = new NoiseGenerator(kind, numSamples: 10, seed: 42);
        foreach (int done in new[] { 0, 4, 8 })
        {
            theirs.SetDoneSamples(done); ours.SetDoneSamples(done);
            using var e = theirs.Randn([4, 1, 32, 32]);
            Assert.Equal(e.data<float>().ToArray(), ours.Randn(4, 32 * 32));
            using var e2 = theirs.Randn([4, 1, 32, 32]);                   // a second draw within the batch (multistep)
            Assert.Equal(e2.data<float>().ToArray(), ours.Randn(4, 32 * 32));
        }
    }
}
