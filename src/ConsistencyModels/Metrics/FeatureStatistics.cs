// Mean and covariance of feature vectors, accumulated batch by batch in float64 (Chan et al. 1979 pairwise merge).
using ConsistencyModels.IO.Numpy;
using static TorchSharp.torch;

namespace ConsistencyModels.Metrics;

/// <summary>
/// Streaming first and second moments of features: 50,000 samples never need to be in memory at once. Each batch's
/// mean and centred cross-products are merged with the running ones (Chan's update), which keeps float64 accuracy
/// where the naive Σxxᵀ − nμμᵀ would cancel. <see cref="Covariance"/> is unbiased (ddof = 1), as numpy's <c>np.cov</c>.
/// </summary>
public sealed class FeatureStatistics : IDisposable
{
    private Tensor _mean;       // [d] float64
    private Tensor _m2;         // [d, d] float64: Σ (x − μ)(x − μ)ᵀ

    public FeatureStatistics(int dimension)
    {
        if (dimension < 1) throw new ArgumentOutOfRangeException(nameof(dimension), "a feature dimension must be positive");
        Dimension = dimension;
        // Long-lived state: owned by this object, never by a caller's dispose scope.
        _mean = zeros(dimension, dtype: ScalarType.Float64).DetachFromDisposeScope();
        _m2 = zeros(dimension, dimension, dtype: ScalarType.Float64).DetachFromDisposeScope();
    }

    public int Dimension { get; }
    public long Count { get; private set; }

    /// <summary>Adds a batch of features [n, d] (any float dtype, any device; copied to CPU float64).</summary>
    public void Add(Tensor features)
    {
        if (features.dim() != 2 || features.shape[1] != Dimension)
            throw new ArgumentException($"features must be [n, {Dimension}], got [{string.Join(", ", features.shape)}]");
        if (features.shape[0] == 0) return;
        using var scope = NewDisposeScope();
        var x = features.detach().to(ScalarType.Float64, CPU);
        var mean = x.mean([0]);
        var centred = x - mean;
        Combine(features.shape[0], mean, centred.t().matmul(centred));
    }

    /// <summary>Merges another accumulator (e.g. from another shard or rank) into this one.</summary>
    public void Merge(FeatureStatistics other)
    {
        if (other.Dimension != Dimension) throw new ArgumentException($"dimension {other.Dimension} does not match {Dimension}");
        if (other.Count == 0) return;
        using var scope = NewDisposeScope();
        Combine(other.Count, other._mean, other._m2);
    }

    /// <summary>Chan's update: folds in a group of <paramref name="nb"/> rows with mean <paramref name="meanB"/> and centred cross-products <paramref name="m2B"/>.</summary>
    private void Combine(long nb, Tensor meanB, Tensor m2B)
    {
        long n = Count, total = n + nb;
        var delta = meanB - _mean;
        var mean = _mean + delta * ((double)nb / total);
        var m2 = _m2 + m2B + delta.outer(delta) * ((double)n * nb / total);
        _mean.Dispose(); _m2.Dispose();
        _mean = mean.DetachFromDisposeScope();
        _m2 = m2.DetachFromDisposeScope();
        Count = total;
    }

    /// <summary>μ as float64 [d] (a copy).</summary>
    public Tensor Mean => _mean.clone();

    /// <summary>Σ as float64 [d, d], unbiased (divides by n − 1); needs at least two samples.</summary>
    public Tensor Covariance => Count >= 2 ? _m2 / (double)(Count - 1)
        : throw new InvalidOperationException($"a covariance needs at least 2 samples, have {Count}");

    /// <summary>The pair the official evaluator stores in reference batches (npz keys <c>mu</c>, <c>sigma</c>).</summary>
    public GaussianStatistics ToGaussian() => new(Mean, Covariance, Count);

    public void Dispose() { _mean.Dispose(); _m2.Dispose(); }
}

/// <summary>A feature Gaussian (μ [d], Σ [d, d], float64), from samples or from a reference-batch npz.</summary>
public sealed record GaussianStatistics(Tensor Mu, Tensor Sigma, long Count) : IDisposable
{
    public int Dimension => (int)Mu.shape[0];

    /// <summary>Writes <c>mu</c> and <c>sigma</c> (float64) as the official reference batches hold them.</summary>
    public IEnumerable<NpyArray> ToNpy(string prefix = "")
    {
        yield return NpyArray.FromTensor(prefix + "mu", Mu);
        yield return NpyArray.FromTensor(prefix + "sigma", Sigma);
    }

    /// <summary>
    /// Reads <c>mu</c>/<c>sigma</c> (or <c>mu_s</c>/<c>sigma_s</c> with suffix "_s") from an npz's arrays; null when absent.
    /// <paramref name="source"/> (the file) is named when they are not a d-vector and a d x d float matrix.
    /// </summary>
    public static GaussianStatistics? FromNpz(IReadOnlyDictionary<string, NpyArray> npz, string suffix = "", string source = "the npz")
    {
        if (!npz.TryGetValue("mu" + suffix, out var mu) || !npz.TryGetValue("sigma" + suffix, out var sigma)) return null;
        string Describe(NpyArray a) => $"{a.Dtype.ToString().ToLowerInvariant()} [{string.Join(", ", a.Shape)}]";
        if (mu.Shape.Length != 1 || sigma.Shape.Length != 2 || sigma.Shape[0] != mu.Shape[0] || sigma.Shape[1] != mu.Shape[0])
            throw new EvaluationInputException(source, $"mu{suffix} is {Describe(mu)} and sigma{suffix} {Describe(sigma)}: " +
                                                       "they must be a d-vector and a d x d matrix of the same d");
        if (mu.Dtype is not (NpyDtype.Float16 or NpyDtype.Float32 or NpyDtype.Float64) || sigma.Dtype is not (NpyDtype.Float16 or NpyDtype.Float32 or NpyDtype.Float64))
            throw new EvaluationInputException(source, $"mu{suffix} is {Describe(mu)} and sigma{suffix} {Describe(sigma)}: they must be floating point");
        return new GaussianStatistics(mu.ToTensor().to(ScalarType.Float64), sigma.ToTensor().to(ScalarType.Float64), 0);
    }

    public void Dispose() { Mu.Dispose(); Sigma.Dispose(); }
}
