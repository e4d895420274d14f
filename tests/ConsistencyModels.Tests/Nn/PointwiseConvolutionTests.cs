// The UNet's 1x1 convolutions on channels-last CPU activations run as a matrix product (PointwiseConvolution), because
// oneDNN's brgemm 1x1 kernel kills the process with SIGFPE for some shapes (512 -> 1024 at 16 px, batch 1, 2 threads on an
// AMD EPYC Zen 5 VM: every LSUN-256 model). Same function, gradients and layout as the convolution.
using ConsistencyModels.Nn;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Nn;

[Collection(GlobalRngCollection.Name)]   // sets the thread count for a moment
public class PointwiseConvolutionTests
{
    [Theory]
    [InlineData(2, 24, 40, 8, 8, true)]
    [InlineData(3, 64, 192, 5, 5, false)]
    [InlineData(2, 32, 48, 6, 10, true)]     // not square: height and width kept apart
    public void MatchesTheConvolutionWithItsGradientsAndKeepsChannelsLast(int batch, int cin, int cout, int height, int width, bool bias)
    {
        using var scope = NewDisposeScope();
        using var gen = new Generator(11);
        var conv = nn.Conv2d(cin, cout, 1, bias: bias);
        using (no_grad())
        {
            conv.weight!.copy_(randn(conv.weight.shape, generator: gen) * 0.2);
            conv.bias?.copy_(randn(cout, generator: gen));
        }
        var x = MemoryLayout.ToChannelsLast(randn([batch, cin, height, width], generator: gen));
        var go = randn([batch, cout, height, width], generator: gen);
        Assert.True(PointwiseConvolution.UsesMatrixProduct(conv, x), "a channels-last CPU input takes the matrix product");
        Assert.False(PointwiseConvolution.UsesMatrixProduct(conv, x.contiguous()), "the NCHW reference calls the convolution");

        var (y, gx, gw, gb) = Run(x, go, xi => PointwiseConvolution.Apply(conv, xi), conv);
        var (yRef, gxRef, gwRef, gbRef) = Run(x.contiguous(), go, conv.call, conv);   // NCHW: the convolution itself

        Assert.True(MemoryLayout.IsChannelsLast(y), "the output has channels-last strides, as the convolution's would");
        Assert.Equal(yRef.shape, y.shape);
        AssertClose(yRef, y, "output");
        AssertClose(gxRef, gx, "input gradient");
        AssertClose(gwRef, gw, "weight gradient");
        if (bias) AssertClose(gbRef!, gb!, "bias gradient");
    }

    [Fact]
    public void NchwAndOtherKernelsRunTheModuleItself()
    {
        using var scope = NewDisposeScope();
        var conv = nn.Conv2d(4, 6, 1);
        var x = randn([1, 4, 3, 3]);                     // NCHW (3x3 spatial, 4 channels: not channels-last strides)
        Assert.False(PointwiseConvolution.UsesMatrixProduct(conv, x));
        Assert.True(PointwiseConvolution.Apply(conv, x).equal(conv.call(x)).all().item<bool>());
        var conv3 = nn.Conv2d(4, 6, 3, padding: 1);
        var xl = MemoryLayout.ToChannelsLast(randn([1, 4, 3, 3]));
        Assert.True(PointwiseConvolution.UsesMatrixProduct(conv, xl), "the 1x1 conv takes the product on this input");
        Assert.False(PointwiseConvolution.UsesMatrixProduct(conv3, xl), "a 3x3 kernel does not");
        Assert.True(PointwiseConvolution.Apply(conv3, xl).equal(conv3.call(xl)).all().item<bool>());
    }

    /// <summary>The shapes that killed `cm generate` for LSUN-256 models on a Zen 5 VM (SIGFPE inside oneDNN), at two
    /// threads, in fp32 and in bf16 (sampling's reduced precision, whose product is oneDNN's bf16 matmul).</summary>
    [Theory]
    [InlineData(512, 1024, false)]
    [InlineData(1024, 512, false)]
    [InlineData(512, 1024, true)]
    [InlineData(1024, 512, true)]
    public void TheShapesThatCrashedOneDnnRun(int cin, int cout, bool bf16)
    {
        using var scope = NewDisposeScope();
        int threads = get_num_threads();
        try
        {
            set_num_threads(2);
            using var _ = no_grad();
            var conv = nn.Conv2d(cin, cout, 1);
            var expected = conv.weight!.sum([1, 2, 3]) + conv.bias!;                 // all-ones input: row sums plus bias
            var x = MemoryLayout.ToChannelsLast(ones([1, cin, 16, 16]));
            if (bf16) { conv.to(ScalarType.BFloat16); x = x.to(ScalarType.BFloat16); }
            Assert.True(PointwiseConvolution.UsesMatrixProduct(conv, x));
            var y = PointwiseConvolution.Apply(conv, x).to(ScalarType.Float32);
            double tolerance = bf16 ? 0.05 * expected.abs().max().item<float>() + 0.05 : 1e-4;
            Assert.True(y[0, TensorIndex.Colon, 7, 9].allclose(expected, rtol: bf16 ? 0.02 : 1e-4, atol: tolerance));
        }
        finally { set_num_threads(threads); }
    }

    private static (Tensor Y, Tensor Gx, Tensor Gw, Tensor? Gb) Run(Tensor x, Tensor go, Func<Tensor, Tensor> f, TorchSharp.Modules.Conv2d conv)
    {
        conv.weight!.grad = null;
        if (conv.bias is { } b) b.grad = null;
        var xi = x.detach().requires_grad_(true);
        var y = f(xi);
        y.backward([go]);
        return (y.detach(), xi.grad!.clone(), conv.weight!.grad!.clone(), conv.bias?.grad?.clone());
    }

    private static void AssertClose(Tensor expected, Tensor actual, string what)
    {
        double scale = Math.Max(expected.abs().max().item<float>(), 1e-6);
        double error = (actual - expected).abs().max().item<float>() / scale;
        Assert.True(error < 1e-5, $"{what}: largest difference {error:G3} of the largest element");
    }
}
