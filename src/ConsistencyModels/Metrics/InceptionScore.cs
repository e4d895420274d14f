// Inception Score (Salimans et al. 2016, §4): exp E_x KL(p(y|x) ‖ p(y)), averaged over splits as the official evaluator does.
using static TorchSharp.torch;

namespace ConsistencyModels.Metrics;

public readonly record struct InceptionScoreResult(double Mean, double Std, int Splits);

public static class InceptionScore
{
    /// <summary>IS of class probabilities [N, C] (rows sum to 1), in consecutive splits of <paramref name="splitSize"/>
    /// rows (the official evaluator: 5000); a last, shorter split counts as one.</summary>
    public static InceptionScoreResult Compute(Tensor probabilities, int splitSize = 5000)
    {
        if (probabilities.dim() != 2) throw new ArgumentException("class probabilities must be [N, C]");
        using var scope = NewDisposeScope();
        var p = probabilities.to(ScalarType.Float64, CPU);
        var scores = new List<double>();
        for (long start = 0; start < p.shape[0]; start += splitSize)
        {
            using var inner = NewDisposeScope();
            var part = p.narrow(0, start, Math.Min(splitSize, p.shape[0] - start));
            var marginal = part.mean([0], keepdim: true);
            // 0·log 0 = 0: clamp before the log so empty classes add nothing instead of NaN.
            var kl = (part * (part.clamp_min(1e-300).log() - marginal.clamp_min(1e-300).log())).sum(1).mean();
            scores.Add(Math.Exp(kl.item<double>()));
        }
        double mean = scores.Average();
        double std = Math.Sqrt(scores.Sum(v => (v - mean) * (v - mean)) / scores.Count);
        return new InceptionScoreResult(mean, std, scores.Count);
    }
}
