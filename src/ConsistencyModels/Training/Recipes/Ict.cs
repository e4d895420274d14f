// Improved consistency training (Song & Dhariwal 2023, "Improved Techniques for Training Consistency Models", arXiv 2310.14189, §3.2–3.5).
using ConsistencyModels.Nn;

namespace ConsistencyModels.Training;

public static partial class TrainingRecipes
{
    /// <summary>
    /// Pseudo-Huber loss, λ(σᵢ) = 1/(σᵢ₊₁ − σᵢ), lognormal pair sampling, μ = 0 (no EMA target), N doubling
    /// 10 → <see cref="ImprovedCtEndScales"/>(K): the paper's 1280 for runs of 200k steps and more, fewer doublings
    /// for shorter runs (80 at 1,500 steps, where 1280 scored FID-FMNIST 348 and 80 scored 218; docs/training.md).
    /// </summary>
    public static TrainingOptions Ict(ModelConfig model, string outputDirectory, long totalSteps) => new()
    {
        Mode = TrainingMode.ConsistencyTraining,
        Model = model,
        OutputDirectory = outputDirectory,
        LossNorm = LossNorm.PseudoHuber,
        WeightSchedule = WeightSchedule.ImprovedCt,
        Schedule = EmaAndScalesConfig.ImprovedConsistencyTraining(totalSteps) with { EndScales = ImprovedCtEndScales(totalSteps) },
        IndexSampling = IndexSampling.LogNormal,
    };

    /// <summary>
    /// iCT's s1 for a run of <paramref name="totalSteps"/> steps: the paper's 1280 at its 400k steps scaled by √(K/400k)
    /// (each level held for as many steps, relative to N², as in the paper), rounded to 10·2^j so that every stage doubles N; at least 20 (two stages), at most 1280.
    /// </summary>
    public static int ImprovedCtEndScales(long totalSteps)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(totalSteps);
        // round(log2(128·√(K/400k))) ≥ j exactly when K·16,384 ≥ 200,000·4^j: integers, so no floating-point ties.
        int j = 1;
        while (j < 7 && (Int128)totalSteps * 16_384 >= (Int128)200_000 << (2 * (j + 1))) j++;
        return 10 << j;
    }
}
