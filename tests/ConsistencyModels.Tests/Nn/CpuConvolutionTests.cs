// Regression tests for wrong oneDNN convolutions on some CPUs (AMD EPYC Zen 5 VM, libtorch 2.10 / oneDNN 3.7.1): at
// channel tails (input gradients with output channels not in blocks of 16, forwards with 17-31, 33-47... input channels)
// its kernels return wrong values, so every UNet gradient upstream of the 1-channel out conv was wrong and training
// turned to NaN from its second step. TorchRuntime keeps oneDNN on and the UNet clear of the tails there; on a sound CPU
// these tests check the same gradients against float64.
using ConsistencyModels.Nn;
using ConsistencyModels.Runtime;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Nn;

[Collection(GlobalRngCollection.Name)]   // runs alone: the reference switches oneDNN off for a moment
public class CpuConvolutionTests(ITestOutputHelper output)
{
    /// <summary>Every parameter gradient of a UNet (1- or 3-channel out conv) against the same network run on libtorch's
    /// own convolution kernels (oneDNN off for the reference), three times (garbage memory showed at random).</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void UNetGradientsAreRight(int channels)
    {
        output.WriteLine($"{TorchRuntime.EnsureSoundCpuConvolutions() ?? "no fault found"}; oneDNN on: {TorchRuntime.MkldnnEnabled()}");
        var config = new ModelConfig
        {
            ImageSize = 16, NumChannels = 32, NumResBlocks = 1, ChannelMult = [1, 2], AttentionResolutions = [8], NumHeadChannels = 32,
            ClassCond = false, UseScaleShiftNorm = true, ResblockUpdown = true, InChannels = channels, OutChannels = channels,
        };
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var model = new UNetModel(config);
        using (no_grad())
            foreach (var p in model.parameters()) p.normal_(0, 0.2);   // every layer random (the out conv starts at zero)
        using var gen = new Generator(7);
        var x = randn([8, channels, 16, 16], generator: gen);
        var t = randn([8], generator: gen) * 100;
        var target = randn([8, channels, 16, 16], generator: gen);
        bool oneDnn = TorchRuntime.MkldnnEnabled() == true;
        Dictionary<string, Tensor> expected;
        try
        {
            TorchRuntime.TrySetMkldnnEnabled(false);
            model.call(x, t, null).sub(target).square().sum().backward();
            expected = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
        }
        finally { TorchRuntime.TrySetMkldnnEnabled(oneDnn); }
        double largest = expected.Values.Max(g => (double)g.abs().max().item<float>());
        for (int rep = 0; rep < 3; rep++)
        {
            foreach (var p in model.parameters()) p.grad = null;
            model.call(x, t, null).sub(target).square().sum().backward();
            foreach (var (name, p) in model.named_parameters())
            {
                Assert.True(p.grad!.isfinite().all().item<bool>(), $"repetition {rep}: non-finite gradient of {name}");
                // Relative to the larger of its own largest element and a thousandth of the network's: a bias before a
                // per-channel GroupNorm has a gradient of exactly zero analytically, and float32 noise around it.
                double scale = Math.Max(expected[name].abs().max().item<float>(), 1e-3 * largest);
                double e = (p.grad! - expected[name]).abs().nan_to_num(1e30, 1e30, 1e30).max().item<float>() / scale;
                Assert.True(e < 1e-4, $"repetition {rep}: gradient of {name} off by {e:G3} (relative)");
            }
        }
    }

    [Fact]
    public void TailConvolutionsAreFound()
    {
        Assert.Null(TorchRuntime.FirstTailConvolution([("a", 1, 32, false), ("b", 32, 64, true), ("c", 64, 3, false), ("d", 3, 32, true), ("e", 16, 16, true)]));
        Assert.Equal(("x", 24L, 32L), TorchRuntime.FirstTailConvolution([("a", 32, 32, true), ("x", 24, 32, false)]));   // forward: an input tail
        Assert.Equal(("y", 32L, 1L), TorchRuntime.FirstTailConvolution([("y", 32, 1, true)]));                        // input gradient: an output tail
        Assert.Null(TorchRuntime.FirstTailConvolution([("z", 15, 15, false)]));                                       // under a block: right
    }
}
