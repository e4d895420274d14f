// Fréchet distance of two Gaussians (Heusel et al. 2017, TTUR; the official evaluator's FID formula).
using static TorchSharp.torch;

namespace ConsistencyModels.Metrics;

/// <summary>
/// FD = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁Σ₂)^½ in float64. The trace of the matrix square root is taken from two
/// symmetric eigendecompositions, tr (Σ₁Σ₂)^½ = Σᵢ √λᵢ(Σ₁^½ Σ₂ Σ₁^½), which is exact for positive semi-definite
/// inputs and agrees with scipy's <c>sqrtm</c> (the official recipe) to ~1e-14 relative, without its complex
/// arithmetic or the eps retry. Eigenvalues that rounding pushes below zero are clamped to zero.
/// </summary>
public static class FrechetDistance
{
    public static double Compute(GaussianStatistics a, GaussianStatistics b) => Compute(a.Mu, a.Sigma, b.Mu, b.Sigma);

    public static double Compute(Tensor mu1, Tensor sigma1, Tensor mu2, Tensor sigma2)
    {
        long d = mu1.shape[0];
        if (mu2.shape[0] != d || !sigma1.shape.SequenceEqual([d, d]) || !sigma2.shape.SequenceEqual([d, d]))
            throw new ArgumentException($"statistics do not match: mu [{mu1.shape[0]}] vs [{mu2.shape[0]}], " +
                                        $"sigma [{string.Join(", ", sigma1.shape)}] vs [{string.Join(", ", sigma2.shape)}] " +
                                        "(were both computed with the same feature extractor?)");
        using var scope = NewDisposeScope();
        var m1 = mu1.to(ScalarType.Float64, CPU); var m2 = mu2.to(ScalarType.Float64, CPU);
        var s1 = sigma1.to(ScalarType.Float64, CPU); var s2 = sigma2.to(ScalarType.Float64, CPU);
        var diff = m1 - m2;
        double meanTerm = diff.dot(diff).item<double>();
        double traces = s1.trace().item<double>() + s2.trace().item<double>();
        return meanTerm + traces - 2 * TraceSqrtProduct(s1, s2);
    }

    /// <summary>tr (Σ₁Σ₂)^½ for symmetric positive semi-definite Σ₁, Σ₂ (float64).</summary>
    public static double TraceSqrtProduct(Tensor sigma1, Tensor sigma2)
    {
        using var scope = NewDisposeScope();
        var s1 = Symmetrize(sigma1.to(ScalarType.Float64, CPU));
        var s2 = Symmetrize(sigma2.to(ScalarType.Float64, CPU));
        var (lambda, v) = linalg.eigh(s1);
        var rootS1 = (v * lambda.clamp_min(0).sqrt()).matmul(v.t());
        var inner = Symmetrize(rootS1.matmul(s2).matmul(rootS1));
        return linalg.eigvalsh(inner).clamp_min(0).sqrt().sum().item<double>();
    }

    private static Tensor Symmetrize(Tensor m) => (m + m.t()) * 0.5;
}
