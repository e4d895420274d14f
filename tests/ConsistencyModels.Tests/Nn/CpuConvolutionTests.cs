// Regression test for wrong oneDNN convolutions on some CPUs (AMD EPYC Zen 5 VM, libtorch 2.10 / oneDNN 3.7.1): the input
// gradient of a convolution with 1 output channel (the UNet's out conv) came back wrong (relative error ~1, NaN at random),
// so every gradient upstream of it was wrong and training turned to NaN from its second step.
using ConsistencyModels.Runtime;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Nn;

public class CpuConvolutionTests
{
    private static double RelErr(Tensor a, Tensor b) =>
        (a - b).abs().nan_to_num(1e30, 1e30, 1e30).max().item<double>() / b.abs().max().item<double>();

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(24)]
    public void InputGradientOfAConvWithFewOutputChannelsIsCorrect(int outChannels)
    {
        TorchRuntime.EnsureSoundCpuConvolutions();      // what every UNetModel does once
        using var scope = NewDisposeScope();
        using var gen = new Generator(7);
        var x = randn([16, 32, 32, 32], generator: gen).requires_grad_(true);
        var w = randn([outChannels, 32, 3, 3], generator: gen) * 0.05;
        var go = randn([16, outChannels, 32, 32], generator: gen);
        for (int rep = 0; rep < 3; rep++)                 // garbage memory showed up in some repetitions only
        {
            x.grad = null;
            nn.functional.conv2d(x, w, padding: [1, 1]).backward([go]);
            // The input gradient of a stride-1 "same" convolution is the convolution of the output gradient with the
            // flipped, transposed kernel; computed in float64 (libtorch's own kernels) as the reference.
            var expected = nn.functional.conv2d(go.to(ScalarType.Float64), w.to(ScalarType.Float64).flip(2, 3).transpose(0, 1), padding: [1, 1]);
            Assert.True(x.grad!.isfinite().all().item<bool>(), $"repetition {rep}: non-finite input gradient");
            Assert.InRange(RelErr(x.grad!.to(ScalarType.Float64), expected), 0, 1e-5);
        }
    }

    [Fact]
    public void ForwardWithAnInputChannelTailIsCorrect()
    {
        TorchRuntime.EnsureSoundCpuConvolutions();
        using var scope = NewDisposeScope();
        using var gen = new Generator(8);
        var x = randn([16, 17, 16, 16], generator: gen);
        var w = randn([32, 17, 3, 3], generator: gen) * 0.05;
        var y = nn.functional.conv2d(x, w, padding: [1, 1]);
        var expected = nn.functional.conv2d(x.to(ScalarType.Float64), w.to(ScalarType.Float64), padding: [1, 1]);
        Assert.InRange(RelErr(y.to(ScalarType.Float64), expected), 0, 1e-5);
    }
}
