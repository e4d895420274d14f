// FD, KID, precision/recall and the streaming statistics against scipy/numpy values (shared/fixtures/metrics/frechet_reference.json).
using System.Text.Json;
using ConsistencyModels.Metrics;
using ConsistencyModels.Tests.IO;
using ConsistencyModels.Data;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Metrics;

public class MetricMathTests
{
    private static JsonElement Reference()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(FixturePaths.Require("metrics/frechet_reference.json")));
        return doc.RootElement.Clone();
    }

    // The fixture's synthetic sets: X[i,j] = sin(0.1(i+1)(j+1)) + 0.01j, Y[i,j] = cos(0.07(i+1)(j+2)) + 0.3; 64 x 8.
    private static Tensor SyntheticX() => Synthetic((i, j) => Math.Sin(0.1 * (i + 1) * (j + 1)) + 0.01 * j);
    private static Tensor SyntheticY() => Synthetic((i, j) => Math.Cos(0.07 * (i + 1) * (j + 2)) + 0.3);

    private static Tensor Synthetic(Func<int, int, double> f)
    {
        var values = new double[64 * 8];
        for (int i = 0; i < 64; i++) for (int j = 0; j < 8; j++) values[i * 8 + j] = f(i, j);
        return tensor(values, [64, 8]);
    }

    private static GaussianStatistics Stats(Tensor x, int batch = 64)
    {
        using var acc = new FeatureStatistics((int)x.shape[1]);
        for (long s = 0; s < x.shape[0]; s += batch) acc.Add(x.narrow(0, s, Math.Min(batch, x.shape[0] - s)));
        return acc.ToGaussian();
    }

    private static void AssertRelative(double expected, double actual, double tolerance) =>
        Assert.True(Math.Abs(actual - expected) <= tolerance * Math.Abs(expected), $"expected {expected:R}, got {actual:R} (relative tolerance {tolerance})");

    [SkippableFact]
    public void ClosedFormsMatch()
    {
        var r = Reference();
        using var scope = NewDisposeScope();
        var oneD = r.GetProperty("1d");
        double fd1 = FrechetDistance.Compute(tensor(new[] { oneD.GetProperty("mu1").GetDouble() }), tensor(new[,] { { oneD.GetProperty("var1").GetDouble() } }),
                                             tensor(new[] { oneD.GetProperty("mu2").GetDouble() }), tensor(new[,] { { oneD.GetProperty("var2").GetDouble() } }));
        Assert.Equal(oneD.GetProperty("scipy").GetDouble(), fd1, 12);

        var diag = r.GetProperty("diag");
        Tensor Vec(string name) => tensor(diag.GetProperty(name).EnumerateArray().Select(e => e.GetDouble()).ToArray());
        double fdDiag = FrechetDistance.Compute(Vec("mu1"), Vec("var1").diag(), Vec("mu2"), Vec("var2").diag());
        Assert.Equal(diag.GetProperty("scipy").GetDouble(), fdDiag, 12);
    }

    [SkippableTheory]
    [InlineData(64)]
    [InlineData(7)]     // uneven batches exercise the streaming merge
    public void SyntheticStatisticsAndFrechetDistanceMatchScipy(int batch)
    {
        var r = Reference();
        var syn = r.GetProperty("synthetic");
        using var scope = NewDisposeScope();
        using var sx = Stats(SyntheticX(), batch);
        using var sy = Stats(SyntheticY(), batch);
        AssertRelative(syn.GetProperty("trace_s1").GetDouble(), sx.Sigma.trace().item<double>(), 1e-13);
        AssertRelative(syn.GetProperty("trace_s2").GetDouble(), sy.Sigma.trace().item<double>(), 1e-13);
        AssertRelative(syn.GetProperty("mu1_0").GetDouble(), sx.Mu[0].item<double>(), 1e-13);
        AssertRelative(syn.GetProperty("s1_00").GetDouble(), sx.Sigma[0, 0].item<double>(), 1e-13);
        AssertRelative(syn.GetProperty("fd_scipy").GetDouble(), FrechetDistance.Compute(sx, sy), 1e-9);
        Assert.InRange(FrechetDistance.Compute(sx, sx), -1e-12, 1e-12);
    }

    [Fact]
    public void MergingShardsEqualsOnePass()
    {
        using var scope = NewDisposeScope();
        var x = SyntheticX();
        using var a = new FeatureStatistics(8); a.Add(x[..20]);
        using var b = new FeatureStatistics(8); b.Add(x[20..]);
        a.Merge(b);
        using var whole = new FeatureStatistics(8); whole.Add(x);
        Assert.Equal(64, a.Count);
        Assert.True(allclose(a.Covariance, whole.Covariance, rtol: 1e-13, atol: 1e-15));
        Assert.True(allclose(a.Mean, whole.Mean, rtol: 1e-13, atol: 1e-15));
    }

    [SkippableFact]
    public void SyntheticKidMatchesReference()
    {
        var r = Reference();
        var syn = r.GetProperty("synthetic");
        using var scope = NewDisposeScope();
        var kid = KernelInceptionDistance.Compute(SyntheticX(), SyntheticY());
        Assert.Equal(1, kid.Subsets);
        AssertRelative(syn.GetProperty("kid").GetDouble(), kid.Mean, 1e-12);
        AssertRelative(syn.GetProperty("kid_self").GetDouble(), KernelInceptionDistance.Compute(SyntheticX(), SyntheticX()).Mean, 1e-12);
    }

    [Fact]
    public void KidSubsetsAreSeededAndCentredOnTheFullValue()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(0, CPU).manual_seed(1);
        var x = randn([300, 4], dtype: ScalarType.Float64, generator: g);
        var y = randn([300, 4], dtype: ScalarType.Float64, generator: g) + 0.5;
        var options = new KidOptions(SubsetSize: 100, Subsets: 20, Seed: 5);
        var a = KernelInceptionDistance.Compute(x, y, options);
        var b = KernelInceptionDistance.Compute(x, y, options);
        Assert.Equal(a, b);
        Assert.Equal(20, a.Subsets);
        double full = KernelInceptionDistance.UnbiasedMmd2(x, y);
        Assert.InRange(a.Mean, full - 4 * a.Std, full + 4 * a.Std);

        // The same subsets drawn here (per subset a randperm of each set, in that order, from one generator seeded with
        // Seed) and MMD² written out elementwise: the mean and the population standard deviation must agree.
        var draw = new Generator(0, CPU).manual_seed(5);
        double[] xs = x.data<double>().ToArray(), ys = y.data<double>().ToArray();
        var values = new double[20];
        for (int s = 0; s < values.Length; s++)
        {
            var ix = randperm(300, generator: draw)[..100].data<long>().ToArray();
            var iy = randperm(300, generator: draw)[..100].data<long>().ToArray();
            values[s] = ElementwiseMmd2(xs, ix, ys, iy, 4);
        }
        double mean = values.Average();
        AssertRelative(mean, a.Mean, 1e-9);
        AssertRelative(Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / values.Length), a.Std, 1e-9);
    }

    /// <summary>Unbiased MMD² of the rows <paramref name="ix"/> of x and <paramref name="iy"/> of y (row-major, d columns), k(a,b) = (a·b/d + 1)³.</summary>
    private static double ElementwiseMmd2(double[] x, long[] ix, double[] y, long[] iy, int d)
    {
        double K(double[] a, long i, double[] b, long j)
        {
            double dot = 0;
            for (int c = 0; c < d; c++) dot += a[i * d + c] * b[j * d + c];
            return Math.Pow(dot / d + 1, 3);
        }
        double sxx = 0, syy = 0, sxy = 0;
        for (int i = 0; i < ix.Length; i++)
            for (int j = 0; j < ix.Length; j++)
                if (i != j) sxx += K(x, ix[i], x, ix[j]);
        for (int i = 0; i < iy.Length; i++)
            for (int j = 0; j < iy.Length; j++)
                if (i != j) syy += K(y, iy[i], y, iy[j]);
        for (int i = 0; i < ix.Length; i++)
            for (int j = 0; j < iy.Length; j++)
                sxy += K(x, ix[i], y, iy[j]);
        double n = ix.Length, m = iy.Length;
        return sxx / (n * (n - 1)) + syy / (m * (m - 1)) - 2 * sxy / (n * m);
    }

    [SkippableFact]
    public void SyntheticPrecisionRecallMatchesReference()
    {
        var r = Reference();
        var pr = r.GetProperty("synthetic").GetProperty("pr_k3").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        using var scope = NewDisposeScope();
        // Small row blocks exercise the blocked distance code.
        var result = PrecisionRecall.Compute(SyntheticX(), SyntheticY(), k: 3, rowBlock: 10);
        Assert.Equal(pr[0], result.Precision, 15);
        Assert.Equal(pr[1], result.Recall, 15);
    }

    [Fact]
    public void InceptionScoreOfUniformAndOneHotPredictions()
    {
        using var scope = NewDisposeScope();
        // Confident and evenly spread over C classes: IS = C. Uniform predictions: IS = 1.
        var oneHot = eye(10, dtype: ScalarType.Float64).repeat(3, 1);
        Assert.Equal(10.0, InceptionScore.Compute(oneHot).Mean, 12);
        Assert.Equal(1.0, InceptionScore.Compute(full(30, 10, 0.1, dtype: ScalarType.Float64)).Mean, 12);
        var split = InceptionScore.Compute(oneHot, splitSize: 10);
        Assert.Equal(3, split.Splits);
        Assert.Equal(10.0, split.Mean, 12);
    }

    /// <summary>End to end on real data: Fashion-MNIST train[:10000] vs test, 4x4 mean-pooled pixels (49-d), as the fixture.</summary>
    [SkippableFact]
    public void PooledFashionMnistTrainVersusTestMatchesScipy()
    {
        var r = Reference();
        double expected = r.GetProperty("pooled49").GetProperty("fmnist_train10k_vs_test10k").GetDouble();
        var train = Requirements.FashionMnist(Requirements.FashionMnistTrainImages);
        var test = Requirements.FashionMnist(Requirements.FashionMnistTestImages);
        using var scope = NewDisposeScope();
        using var a = Pooled49(new IdxDataset(train, 28), 10000);
        using var b = Pooled49(new IdxDataset(test, 28), 10000);
        AssertRelative(expected, FrechetDistance.Compute(a, b), 1e-6);
    }

    private static GaussianStatistics Pooled49(IdxDataset data, int count)
    {
        using var acc = new FeatureStatistics(49);
        var buffer = new float[1000 * 28 * 28];
        for (int start = 0; start < count; start += 1000)
        {
            for (int i = 0; i < 1000; i++) data.Read(start + i, buffer.AsSpan(i * 784, 784));
            using var scope = NewDisposeScope();
            // Recover the exact bytes from the [-1, 1] floats, then x/255 in float64 as the fixture recipe.
            var bytes = (tensor(buffer, [1000, 1, 28, 28]).to(ScalarType.Float64) + 1).mul(127.5).round();
            acc.Add(nn.functional.avg_pool2d(bytes / 255.0, 4).reshape(1000, 49));
        }
        return acc.ToGaussian();
    }
}
