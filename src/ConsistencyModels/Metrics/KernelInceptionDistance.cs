// Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs" §4): unbiased MMD² with a cubic polynomial kernel.
using static TorchSharp.torch;

namespace ConsistencyModels.Metrics;

/// <summary>How KID draws its subsets: <see cref="Subsets"/> random subsets of <see cref="SubsetSize"/> rows per set
/// (the usual 100 × 1000). When both sets have at most <see cref="SubsetSize"/> rows, one subset of all rows is used.</summary>
public sealed record KidOptions(int SubsetSize = 1000, int Subsets = 100, long Seed = 0);

/// <summary>Mean and standard deviation of the unbiased MMD² over the subsets.</summary>
public readonly record struct KidResult(double Mean, double Std, int Subsets, int SubsetSize);

public static class KernelInceptionDistance
{
    /// <summary>KID between feature sets [n, d] and [m, d] (float64 arithmetic).</summary>
    public static KidResult Compute(Tensor reference, Tensor samples, KidOptions? options = null)
    {
        options ??= new KidOptions();
        if (reference.dim() != 2 || samples.dim() != 2 || reference.shape[1] != samples.shape[1])
            throw new ArgumentException($"feature sets must be [n, d] and [m, d], got [{string.Join(", ", reference.shape)}] and [{string.Join(", ", samples.shape)}]");
        long n = reference.shape[0], m = samples.shape[0];
        if (n < 2 || m < 2) throw new ArgumentException("KID needs at least 2 rows in each set");
        using var scope = NewDisposeScope();
        var x = reference.to(ScalarType.Float64, CPU);
        var y = samples.to(ScalarType.Float64, CPU);
        if (n <= options.SubsetSize && m <= options.SubsetSize)
            return new KidResult(UnbiasedMmd2(x, y), 0, 1, (int)Math.Min(n, m));

        long size = Math.Min(options.SubsetSize, Math.Min(n, m));
        var generator = new Generator(0, CPU).manual_seed(options.Seed);
        var values = new double[options.Subsets];
        for (int i = 0; i < options.Subsets; i++)
        {
            using var inner = NewDisposeScope();
            var ix = randperm(n, generator: generator)[..(int)size];
            var iy = randperm(m, generator: generator)[..(int)size];
            values[i] = UnbiasedMmd2(x.index_select(0, ix), y.index_select(0, iy));
        }
        double mean = values.Average();
        double std = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / values.Length);
        return new KidResult(mean, std, options.Subsets, (int)size);
    }

    /// <summary>
    /// MMD²ᵤ = Σᵢ≠ⱼ k(xᵢ,xⱼ)/(n(n−1)) + Σᵢ≠ⱼ k(yᵢ,yⱼ)/(m(m−1)) − 2 Σᵢⱼ k(xᵢ,yⱼ)/(nm), k(a,b) = (a·b/d + 1)³.
    /// The cross term keeps i = j, so KID(X, X) is slightly negative.
    /// </summary>
    public static double UnbiasedMmd2(Tensor x, Tensor y)
    {
        using var scope = NewDisposeScope();
        double d = x.shape[1];
        long n = x.shape[0], m = y.shape[0];
        Tensor Kernel(Tensor a, Tensor b) => (a.matmul(b.t()) / d + 1).pow(3);
        var kxx = Kernel(x, x); var kyy = Kernel(y, y); var kxy = Kernel(x, y);
        double sxx = (kxx.sum() - kxx.trace()).item<double>() / (n * (n - 1.0));
        double syy = (kyy.sum() - kyy.trace()).item<double>() / (m * (m - 1.0));
        double sxy = kxy.sum().item<double>() / ((double)n * m);
        return sxx + syy - 2 * sxy;
    }
}
