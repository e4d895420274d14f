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

    [Fact]
    public void ReleasedTsAreValid()
    {
        new MultistepOptions([0, 22, 39], 40).Validate();
        new MultistepOptions([0, 106, 200], 201).Validate();
        new MultistepOptions([0, 62, 150], 151).Validate();
    }

    [Fact]
    public void MultistepWithoutTsIsRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => new SamplingOptions { Sampler = SamplerKind.Multistep }.Validate());
        Assert.Contains("--ts", e.Message);
    }
}
