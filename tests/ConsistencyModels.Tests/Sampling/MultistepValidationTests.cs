// ts validation: the official code silently returns noisy images for bad ts; we refuse with a message.
using ConsistencyModels.Sampling;
using Xunit;

namespace ConsistencyModels.Tests.Sampling;

public class MultistepValidationTests
{
    [Theory]
    [InlineData(new[] { 0, 22 }, 40, "must end at steps-1 = 39")]
    [InlineData(new[] { 0, 39, 22 }, 40, "strictly ascending")]
    [InlineData(new[] { 0, 22, 40 }, 40, "outside [0, 39]")]
    [InlineData(new[] { -1, 39 }, 40, "outside [0, 39]")]
    [InlineData(new[] { 39 }, 40, "at least two")]
    public void BadTsIsRefusedWithAClearMessage(int[] ts, int steps, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => new MultistepOptions(ts, steps).Validate());
        Assert.Contains(expected, e.Message);
    }

    // Every preset's released two-step ts validates, ends at σ_min, and its middle index lands on the σ of the
    // reference table (openai-consistency-models.md §5.4: 1.382, 1.913, 4.366, 3.520, 3.991, 5.249).
    [Theory]
    [InlineData("cd_imagenet64_lpips", 1.382)]
    [InlineData("ct_imagenet64", 1.913)]
    [InlineData("cd_bedroom256_lpips", 4.366)]
    [InlineData("cd_bedroom256_l2", 3.520)]
    [InlineData("ct_bedroom256", 3.991)]
    [InlineData("ct_cat256", 5.249)]
    public void ReleasedTsAreValidAndHitTheReferenceSigmas(string preset, double middleSigma)
    {
        var p = ConsistencyModels.Presets.CheckpointPresets.Get(preset);
        var ts = p.TwoStepTs!;
        new MultistepOptions(ts, p.Steps).Validate();
        Assert.Equal(80.0, ConsistencyModels.Diffusion.KarrasSchedule.SigmaAt(ts[0], p.Steps), 9);
        Assert.Equal(middleSigma, ConsistencyModels.Diffusion.KarrasSchedule.SigmaAt(ts[1], p.Steps), 3);
        Assert.Equal(0.002, ConsistencyModels.Diffusion.KarrasSchedule.SigmaAt(ts[^1], p.Steps), 12);
    }

    [Fact]
    public void MultistepWithoutTsIsRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => new SamplingOptions { Sampler = SamplerKind.Multistep }.Validate());
        Assert.Contains("`Ts`", e.Message);
    }
}
