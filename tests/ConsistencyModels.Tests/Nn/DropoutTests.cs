using ConsistencyModels.Nn;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Nn;

[Collection(GlobalRngCollection.Name)]   // draws its seeds from the global generator
public sealed class DropoutTests
{
    private static Dropout InTraining(Dropout d) { d.train(); return d; }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void DropsAboutPAndScalesTheRestAsLibtorch(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        using var drop = InTraining(new Dropout(0.1));
        manual_seed(5);
        var x = ones(64, 32, 16, 16).to(dtype);
        var y = drop.call(x);
        Assert.Equal(dtype, y.dtype);
        var values = y.to(ScalarType.Float32);
        double zeros = (values == 0).to(ScalarType.Float32).mean().item<float>();
        Assert.InRange(zeros, 0.097, 0.103);                                         // 524,288 draws: 3 sigma is 0.0012
        // Kept elements hold 1/(1 - p) rounded to the dtype, as libtorch's noise.div_(1 - p).
        float keep = ones(1).to(dtype).div_(0.9).to(ScalarType.Float32).item<float>();
        var kept = values.masked_select(values != 0);
        Assert.Equal(keep, kept.min().item<float>());
        Assert.Equal(keep, kept.max().item<float>());
        // The same fraction as libtorch's own dropout, within sampling error.
        manual_seed(5);
        double torchZeros = (nn.functional.dropout(ones(64, 32, 16, 16), 0.1, training: true) == 0).to(ScalarType.Float32).mean().item<float>();
        Assert.InRange(Math.Abs(zeros - torchZeros), 0, 0.003);
    }

    [Fact]
    public void MasksReplayFromTheGeneratorsStateAndDifferBetweenCalls()
    {
        using var scope = NewDisposeScope();
        using var drop = InTraining(new Dropout(0.3));
        var x = randn(8, 16, 8, 8);
        manual_seed(11);
        var state = random.get_rng_state();
        var a = drop.call(x);
        var b = drop.call(x);
        random.set_rng_state(state);
        var again = drop.call(x);
        Assert.True(a.As(again));                                                  // as the CD/CT/ECT losses rely on
        Assert.False(a.As(b));
        manual_seed(11);
        Assert.True(a.As(drop.call(x)));
        manual_seed(12);
        Assert.False(a.As(drop.call(x)));
    }

    [Fact]
    public void NeighbouringElementsAreIndependent()
    {
        using var scope = NewDisposeScope();
        // Each hash serves two elements (its low and high halves) and chunks are filled in parallel: the masks of even
        // and odd positions, and across a chunk boundary, must not be correlated.
        manual_seed(3);
        var noise = Dropout.Noise([1 << 18], ScalarType.Float32, 0.5, seed: 42);
        var kept = (noise != 0).to(ScalarType.Float32);
        var even = kept[TensorIndex.Slice(0, null, 2)];
        var odd = kept[TensorIndex.Slice(1, null, 2)];
        double both = (even * odd).mean().item<float>();
        Assert.InRange(both, 0.25 - 0.005, 0.25 + 0.005);
        var shifted = (kept[TensorIndex.Slice(0, -(1 << 16))] * kept[TensorIndex.Slice(1 << 16, null)]).mean().item<float>();
        Assert.InRange(shifted, 0.25 - 0.005, 0.25 + 0.005);
        Assert.True(noise.As(Dropout.Noise([1 << 18], ScalarType.Float32, 0.5, seed: 42)));
        Assert.False(noise.As(Dropout.Noise([1 << 18], ScalarType.Float32, 0.5, seed: 43)));
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void MasksAreSplitMix64OfSeedAndIndexElementForElement(ScalarType dtype)
    {
        // The masks are part of every run's bits (a committed resume set continues only with the same masks), so they
        // are pinned to the formula, element for element, whichever path fills them (vector lanes or the scalar tail):
        // element i is kept when half (i odd: high, else low) of SplitMix64(Mix(seed + γ) + (i / 2)·γ) is at least p·2^32.
        using var scope = NewDisposeScope();
        const double p = 0.3;
        const long seed = 1234567;
        long n = 2 * 65_536 + 45;                                                   // two chunks and an odd tail
        var kept = Dropout.Noise([n], dtype, p, seed).to(ScalarType.Float32).data<float>().ToArray();
        const ulong golden = ConsistencyModels.Data.SplitMix64.Golden;
        static ulong Mix(ulong z) => ConsistencyModels.Data.SplitMix64.Mix(z);   // the project's SplitMix64 output function
        ulong key = Mix(unchecked((ulong)seed + golden));
        uint threshold = (uint)Math.Round(p * 4294967296.0);
        float keep = ones(1).to(dtype).div_(1 - p).to(ScalarType.Float32).item<float>();
        for (long i = 0; i < n; i++)
        {
            ulong h = Mix(unchecked(key + (ulong)(i >> 1) * golden));
            uint half = (i & 1) == 0 ? (uint)h : (uint)(h >> 32);
            Assert.True((half >= threshold ? keep : 0f) == kept[i], $"element {i}: {kept[i]}");
        }
    }

    [Fact]
    public void GradientIsTheMask()
    {
        using var scope = NewDisposeScope();
        using var drop = InTraining(new Dropout(0.2));
        manual_seed(2);
        var x = randn(4, 8, 8, 8).requires_grad_(true);
        var y = drop.call(x);
        y.sum().backward();
        var expected = (y.detach() != 0).to(ScalarType.Float32) / 0.8f;
        Assert.True(x.grad!.allclose(expected, rtol: 1e-6, atol: 0));
    }

    [Fact]
    public void EvalModeAndZeroPAreTheIdentityAndDrawNothing()
    {
        using var scope = NewDisposeScope();
        var x = randn(2, 4, 4, 4);
        using var off = InTraining(new Dropout(0.0));
        using var evalDrop = new Dropout(0.5);
        evalDrop.eval();
        manual_seed(9);
        Assert.True(off.call(x).As(x));
        Assert.True(evalDrop.call(x).As(x));
        var next = randn(3);
        manual_seed(9);
        Assert.True(next.As(randn(3)));                                            // the generator did not move
        Assert.Throws<ArgumentOutOfRangeException>(() => new Dropout(1.0));
    }

    [Fact]
    public void LibtorchMasksWhenHashingIsOff()
    {
        using var scope = NewDisposeScope();
        using var drop = InTraining(new Dropout(0.1, KernelOptions.Default with { HashedCpuDropout = false }));
        var x = ones(4, 8, 8, 8);
        manual_seed(4);
        var ours = drop.call(x);
        manual_seed(4);
        Assert.True(ours.As(nn.functional.dropout(x, 0.1, training: true)));
    }
}
// Same values, element for element.
file static class Same
{
    public static bool As(this Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.equal(b).all().item<bool>();
}
