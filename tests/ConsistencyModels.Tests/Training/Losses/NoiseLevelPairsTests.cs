// The pair distributions: uniform indices in range, and iCT's lognormal over the pairs as its formula gives.
using ConsistencyModels.Training;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Training.Losses;

public class NoiseLevelPairsTests
{
    [Fact]
    public void LogNormalProbabilitiesFollowTheErfFormula()
    {
        var grid = new ConsistencyLoss();
        using var p = NoiseLevelPairs.LogNormalProbabilities(grid, 11);
        Assert.Equal([10L], p.shape);
        Assert.Equal(ScalarType.Float64, p.dtype);
        var values = p.data<double>().ToArray();
        Assert.Equal(1.0, values.Sum(), 12);
        // P(n) ∝ erf((ln σ(n) + 1.1)/(2√2)) − erf((ln σ(n+1) + 1.1)/(2√2)), σ(n) the Karras grid of 11 levels on [0.002, 80].
        double Sigma(int n) => Math.Pow(Math.Pow(80, 1 / 7.0) + n / 10.0 * (Math.Pow(0.002, 1 / 7.0) - Math.Pow(80, 1 / 7.0)), 7);
        var expected = Enumerable.Range(0, 10).Select(n => Erf((Math.Log(Sigma(n)) + 1.1) / (2 * Math.Sqrt(2))) - Erf((Math.Log(Sigma(n + 1)) + 1.1) / (2 * Math.Sqrt(2)))).ToArray();
        for (int n = 0; n < 10; n++) Assert.Equal(expected[n] / expected.Sum(), values[n], 5);
    }

    [Fact]
    public void UniformIndicesCoverThePairs()
    {
        using var gen = new TorchSharp.torch.Generator(3);
        using var idx = NoiseLevelPairs.Draw(IndexSampling.Uniform, new ConsistencyLoss(), 2000, 5, gen);
        Assert.Equal(ScalarType.Int64, idx.dtype);
        Assert.Equal([0L, 1, 2, 3], idx.unique().Item1.data<long>().ToArray());
    }

    // Abramowitz-Stegun 7.1.26 is too coarse for 5 digits: integrate erf's series instead.
    private static double Erf(double x)
    {
        double sum = 0, term = x;
        for (int k = 0; k < 200; k++)
        {
            sum += term / (2 * k + 1);
            term *= -x * x / (k + 1);
        }
        return 2 / Math.Sqrt(Math.PI) * sum;
    }
}
