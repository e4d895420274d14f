// The distribution of the noise-level pairs (σ(n), σ(n+1)) a consistency loss trains on: uniform as
// cm/karras_diffusion.py::consistency_losses, or iCT's discretised lognormal (Song & Dhariwal 2023, arXiv 2310.14189, §3.5).
using static TorchSharp.torch;

namespace ConsistencyModels.Training;

/// <summary>How the grid index n of each sample's noise-level pair is drawn (consistency modes).</summary>
public enum IndexSampling
{
    /// <summary>n ~ U{0..N−2}: the released code.</summary>
    Uniform,
    /// <summary>iCT: P(n) ∝ erf((ln σ(n) − P_mean)/(√2 P_std)) − erf((ln σ(n+1) − P_mean)/(√2 P_std)), P_mean −1.1, P_std 2.0.</summary>
    LogNormal,
}

public static class NoiseLevelPairs
{
    /// <summary>
    /// <paramref name="count"/> grid indices n ∈ {0..N−2} (int64) drawn from <paramref name="generator"/>, for the
    /// σ grid of <paramref name="grid"/> with N = <paramref name="scales"/>.
    /// </summary>
    public static Tensor Draw(IndexSampling sampling, ConsistencyLoss grid, int count, int scales, Generator generator)
    {
        if (sampling == IndexSampling.Uniform) return randint(0, scales - 1, [count], dtype: ScalarType.Int64, generator: generator);
        using var probs = LogNormalProbabilities(grid, scales);
        return multinomial(probs, count, replacement: true, generator: generator);
    }

    /// <summary>iCT's discretised lognormal over the pairs (σ(n), σ(n+1)), n = 0..N−2, of the σ grid of <paramref name="grid"/> (float64).</summary>
    public static Tensor LogNormalProbabilities(ConsistencyLoss grid, int scales, double pMean = -1.1, double pStd = 2.0)
    {
        using var idx = arange(0L, scales - 1, dtype: ScalarType.Int64);
        var (t, t2) = grid.Sigmas(idx, scales);
        using (t) using (t2)
        {
            using var hi = special.erf((t.log() - pMean) / (Math.Sqrt(2) * pStd));
            using var lo = special.erf((t2.log() - pMean) / (Math.Sqrt(2) * pStd));
            using var p = (hi - lo).to(ScalarType.Float64);
            return (p / p.sum()).clamp_min(0);
        }
    }
}
