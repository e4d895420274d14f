// Fixture-free checks of get_weightings, the loss norms, LPIPS and ConsistencyLoss argument handling.
using ConsistencyModels.Diffusion;
using ConsistencyModels.Metrics;
using ConsistencyModels.Training;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Training.Losses;

[Collection(GlobalRngCollection.Name)]
public class LossBasicsTests
{
    [Theory]
    [InlineData(WeightSchedule.Snr, 0.5, 4.0)]
    [InlineData(WeightSchedule.SnrPlus1, 0.5, 5.0)]
    [InlineData(WeightSchedule.Karras, 0.5, 8.0)]           // snr + 1/sd² = (σ² + sd²)/(σ·sd)²
    [InlineData(WeightSchedule.TruncatedSnr, 2.0, 1.0)]     // clamp(0.25, min=1)
    [InlineData(WeightSchedule.TruncatedSnr, 0.5, 4.0)]
    [InlineData(WeightSchedule.Uniform, 80.0, 1.0)]
    public void WeightingsFollowUpstream(WeightSchedule schedule, double sigma, double expected)
    {
        using var scope = NewDisposeScope();
        var w = Weightings.Get(schedule, Weightings.Snr(tensor(new[] { (float)sigma })), 0.5);
        Assert.Equal(ScalarType.Float32, w.dtype);
        Assert.Equal(expected, w.item<float>(), 5);
    }

    [Fact]
    public void ImprovedCtWeightingIsTheReciprocalGapBetweenThePairsLevels()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var x0 = rand(3, 1, 8, 8) * 2 - 1;
        var noise = randn(3, 1, 8, 8);
        var indices = tensor(new long[] { 0, 5, 8 });
        Denoiser online = (x, s) => x * 0.5;
        Denoiser target = (x, s) => x * 0.25;
        var uniform = new ConsistencyLoss(LossNorm.L2, WeightSchedule.Uniform).Compute(x0, noise, indices, 10, online, target);
        var ict = new ConsistencyLoss(LossNorm.L2, WeightSchedule.ImprovedCt).Compute(x0, noise, indices, 10, online, target);
        var (t, t2) = new ConsistencyLoss().Sigmas(indices, 10);
        var expected = uniform / (t - t2);
        Assert.True(allclose(ict, expected, rtol: 1e-6), string.Join(",", ict.data<float>().ToArray()) + " vs " + string.Join(",", expected.data<float>().ToArray()));
        Assert.Throws<ArgumentException>(() => Weightings.Get(WeightSchedule.ImprovedCt, ones(1), 0.5));
    }

    [Fact]
    public void NormsOfKnownDifferences()
    {
        using var scope = NewDisposeScope();
        var a = zeros(2, 3, 64, 64);
        var b = full(new long[] { 2, 3, 64, 64 }, 0.5f);
        Assert.Equal(new[] { 0.5f, 0.5f }, LossNorms.Distance(LossNorm.L1, a, b).data<float>().ToArray());
        Assert.Equal(new[] { 0.25f, 0.25f }, LossNorms.Distance(LossNorm.L2, a, b).data<float>().ToArray());
        Assert.Equal(new[] { 0.25f, 0.25f }, LossNorms.Distance(LossNorm.L2At32, a, b).data<float>().ToArray());
        Assert.Throws<ArgumentException>(() => LossNorms.Distance(LossNorm.Lpips, a, b));
    }

    [Fact]
    public void LpipsIsZeroForIdenticalImagesAndPositiveOtherwise()
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(7);
        var convs = new Dictionary<int, (Tensor, Tensor)>();
        long inCh = 3;
        int[] widths = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512];
        for (int k = 0; k < Lpips.ConvIndices.Length; k++)
        {
            convs[Lpips.ConvIndices[k]] = (randn(new long[] { widths[k], inCh, 3, 3 }, generator: gen) * Math.Sqrt(2.0 / (9 * widths[k])),
                                           zeros(widths[k]));
            inCh = widths[k];
        }
        var lin = new[] { 64, 128, 256, 512, 512 }.Select(c => rand(new long[] { 1, c, 1, 1 }, generator: gen)).ToList();
        using var lpips = new Lpips(convs, lin);
        var x = rand(new long[] { 2, 3, 32, 32 }, generator: gen);
        var y = rand(new long[] { 2, 3, 32, 32 }, generator: gen);
        var same = lpips.Distance(x, x);
        Assert.Equal(new long[] { 2 }, same.shape);
        Assert.Equal(0.0, same.abs().max().item<float>());
        Assert.True(lpips.Distance(x, y).min().item<float>() > 0);
    }

    [Fact]
    public void CtLossIsZeroWhenOnlineAndTargetAgreeAndLpipsNeedsAMetric()
    {
        using var scope = NewDisposeScope();
        Denoiser constant = (x, s) => zeros_like(x);
        var x0 = rand(2, 3, 8, 8);
        var noise = randn(2, 3, 8, 8);
        var idx = tensor(new long[] { 0, 5 });
        var loss = new ConsistencyLoss(LossNorm.L2).Compute(x0, noise, idx, 10, constant, constant);
        Assert.Equal(new[] { 0f, 0f }, loss.data<float>().ToArray());
        Assert.Throws<InvalidOperationException>(() => new ConsistencyLoss(LossNorm.Lpips).Compute(x0, noise, idx, 10, constant, constant));
        var (t, t2) = new ConsistencyLoss().Sigmas(tensor(new long[] { 0, 8 }), 10);
        Assert.Equal(80f, t[0].item<float>(), 3);
        Assert.Equal(0.002f, t2[1].item<float>(), 6);
    }
}
