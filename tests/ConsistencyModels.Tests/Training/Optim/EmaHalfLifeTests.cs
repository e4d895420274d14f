// NVlabs/edm's half-life EMA with ramp-up: β = 0.5^(batch / max(min(half-life, images seen · ratio), 1e-8)).
using ConsistencyModels.Training;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Training.Optim;

public class EmaHalfLifeTests
{
    [Theory]
    // batch, images seen before the step, half-life (images), ramp-up ratio, the half-life in force
    [InlineData(32, 0, 500.0, 0.05, 1e-8)]            // first step: β = 0, the EMA copies the weights
    [InlineData(32, 3200, 500.0, 0.05, 160.0)]        // ramping up: 5% of the images seen
    [InlineData(32, 320_000, 500.0, 0.05, 500.0)]     // ramped: the half-life itself
    [InlineData(32, 0, 500.0, null, 500.0)]           // no ramp-up: fixed from the start
    public void BetaFollowsTheFormula(long batch, long seen, double halfLife, double? ratio, double inForce)
    {
        Assert.Equal(Math.Pow(0.5, batch / inForce), Ema.HalfLifeBeta(batch, seen, halfLife, ratio), 15);
    }

    [Fact]
    public void AHalfLifeHalvesTheWeightOfOldImages()
    {
        // After half-life / batch updates without ramp-up, the initial weights keep exactly one half.
        const int batch = 8, halfLife = 64;
        double kept = 1;
        for (int step = 0; step < halfLife / batch; step++) kept *= Ema.HalfLifeBeta(batch, step * batch, halfLife, null);
        Assert.Equal(0.5, kept, 12);
    }

    [Fact]
    public void EmaWeightsUseTheRateOrTheHalfLife()
    {
        var fixedRate = new EmaWeights(0.999, []);
        Assert.Equal(0.999, fixedRate.Beta(123, 32));
        var halfLife = new EmaWeights(double.NaN, [], HalfLifeKimg: 0.5, RampupRatio: 0.05);
        Assert.Equal(Ema.HalfLifeBeta(32, 100 * 32, 500, 0.05), halfLife.Beta(100, 32));
        Assert.Equal(0.0, halfLife.Beta(0, 32));
    }

    [Fact]
    public void BadHalfLifeOptionsAreRefusedNamingTheProperty()
    {
        var o = new TrainingOptions { Mode = TrainingMode.Edm, Model = ConsistencyModels.Presets.TrainingPresets.FashionMnist32(ConsistencyModels.Nn.DenoiserKind.Edm), OutputDirectory = "x" };
        Assert.Contains("`EmaHalfLifeKimg`", Assert.Throws<ArgumentException>(() => (o with { EmaHalfLifeKimg = 0 }).Validate()).Message);
        Assert.Contains("`EmaRampupRatio`", Assert.Throws<ArgumentException>(() => (o with { EmaHalfLifeKimg = 1, EmaRampupRatio = -1 }).Validate()).Message);
    }
}
