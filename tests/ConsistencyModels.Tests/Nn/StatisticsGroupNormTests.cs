// The statistics GroupNorm (per-sample moments + one affine pass, used on GPUs for channels-last activations) against
// libtorch's group_norm, in both layouts, with and without a folded scale-shift, and through a whole checkpoint.
using ConsistencyModels.Nn;
using ConsistencyModels.Pipelines;
using ConsistencyModels.Tests.IO;
using ConsistencyModels.Tests.Parity;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Nn;

public class StatisticsGroupNormTests
{
    private static (Tensor X, Tensor W, Tensor B) Inputs(ScalarType dtype = ScalarType.Float32)
    {
        using var g = new Generator(5);
        // A non-zero mean per channel, so that a wrong mean or a wrong group pooling shows.
        var x = (randn([3, 64, 8, 8], generator: g) * 2 + randn([1, 64, 1, 1], generator: g) * 3).to(dtype);
        return (x, randn([64], generator: g), randn([64], generator: g));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void MatchesGroupNormInBothLayouts(bool channelsLast, bool scaleShift)
    {
        using var scope = NewDisposeScope();
        var (x, w, b) = Inputs();
        using var g = new Generator(9);
        var scale = scaleShift ? randn([3, 64], generator: g) : null;
        var shift = scaleShift ? randn([3, 64], generator: g) : null;
        var expected = nn.functional.group_norm(x, 32, w, b, 1e-5);
        if (scaleShift) expected = expected * (scale! + 1).view(3, 64, 1, 1) + shift!.view(3, 64, 1, 1);
        var y = GroupNorm32.FromStatistics(channelsLast ? MemoryLayout.ToChannelsLast(x) : x, 32, 1e-5, w, b, scale, shift);
        double tolerance = scaleShift ? 5e-5 : 2e-5;
        Assert.True(Close.MaxAbsDiff(expected, y) < tolerance, $"max |diff| {Close.MaxAbsDiff(expected, y)}");
        Assert.Equal(channelsLast, MemoryLayout.IsChannelsLast(y));                 // the output keeps the input's layout
    }

    [Fact]
    public void GradientsMatchGroupNorm()
    {
        using var scope = NewDisposeScope();
        // Training a channels-last model on a GPU takes this path: its gradients must be GroupNorm's.
        var (x0, w0, b0) = Inputs();
        Tensor[] Grads(bool statistics)
        {
            var x = MemoryLayout.ToChannelsLast(x0).requires_grad_();
            var w = w0.clone().requires_grad_();
            var b = b0.clone().requires_grad_();
            using var weights = linspace(-1, 1, x0.numel()).view(x0.shape);
            var y = statistics ? GroupNorm32.FromStatistics(x, 32, 1e-5, w, b) : nn.functional.group_norm(x, 32, w, b, 1e-5);
            (y * weights).sum().backward();
            return [x.grad!, w.grad!, b.grad!];
        }
        var expected = Grads(false);
        var actual = Grads(true);
        for (int i = 0; i < 3; i++)
            Assert.True(Close.MaxAbsDiff(expected[i], actual[i]) < 1e-4, $"gradient {i}: max |diff| {Close.MaxAbsDiff(expected[i], actual[i])}");
    }

    [Fact]
    public void Fp16WithALargeSpreadDoesNotOverflow()
    {
        // Variances above 65504 do not fit fp16; the path keeps standard deviations there, as libtorch keeps float32.
        using var scope = NewDisposeScope();
        using var g = new Generator(11);
        var x32 = randn([2, 64, 8, 8], generator: g) * 1000 + 300;
        var w = ones(64);
        var b = zeros(64);
        var expected = nn.functional.group_norm(x32, 32, w, b, 1e-5);
        var y = GroupNorm32.FromStatistics(MemoryLayout.ToChannelsLast(x32.to(ScalarType.Float16)), 32, 1e-5, w, b).to(ScalarType.Float32);
        Assert.True(y.isfinite().all().item<bool>(), "non-finite output");
        Assert.True(Close.MaxAbsDiff(expected, y) < 0.02, $"fp16, std 1000: max |diff| {Close.MaxAbsDiff(expected, y)}");
    }

    [Fact]
    public void ReducedPrecisionStaysWithinItsRounding()
    {
        using var scope = NewDisposeScope();
        var (x, w, b) = Inputs(ScalarType.BFloat16);
        using var expected = nn.functional.group_norm(x.to(ScalarType.Float32), 32, w, b, 1e-5);
        using var y = GroupNorm32.FromStatistics(MemoryLayout.ToChannelsLast(x), 32, 1e-5, w, b);
        Assert.Equal(ScalarType.BFloat16, y.dtype);
        using var y32 = y.to(ScalarType.Float32);
        // bf16 keeps 8 bits: outputs of a few units carry ~2^-8 relative rounding, plus the rounded mean (|mean| <= ~10).
        double err = Close.MaxAbsDiff(expected, y32);
        Assert.True(err < 0.1, $"bf16 statistics GroupNorm vs fp32: max |diff| {err}");
    }
}

public class StatisticsGroupNormModelTests
{
    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void ACheckpointGivesTheOfficialImagesThroughTheStatisticsPath(bool channelsLast)
    {
        var config = ConsistencyModels.IO.ModelConfigJson.Load(FixturePaths.Require("e2e/config_imagenet64_w32_consistency.json"));
        using var pipeline = ConsistencyPipeline.Load(config, FixturePaths.Require("model_imagenet64_topology.pt"), channelsLast: channelsLast,
                                                      kernels: new KernelOptions(StatisticsGroupNorm: StatisticsGroupNorm.Always));
        var request = new GenerationRequest { NumSamples = 4, BatchSize = 4, Seed = 42, ClassLabels = [3, 917, 0, 999] };
        var expected = ConsistencyModels.IO.Numpy.Npz.Read(FixturePaths.Require("e2e/e2e_im64_onestep_determ.npz"));
        EndToEndTests.AssertImagesMatch(expected["arr_0"].Data, pipeline.Generate(request).Images, $"statistics GroupNorm, channels-last {channelsLast}");
    }
}
