// Improved consistency training (Song & Dhariwal 2023, "Improved Techniques for Training Consistency Models", arXiv 2310.14189, §3.2–3.5).
using ConsistencyModels.Nn;

namespace ConsistencyModels.Training;

public static partial class TrainingRecipes
{
    /// <summary>Pseudo-Huber loss, λ(σᵢ) = 1/(σᵢ₊₁ − σᵢ), lognormal pair sampling, μ = 0 (no EMA target), N doubling 10 → 1280.</summary>
    public static TrainingOptions Ict(ModelConfig model, string outputDirectory, long totalSteps) => new()
    {
        Mode = TrainingMode.ConsistencyTraining,
        Model = model,
        OutputDirectory = outputDirectory,
        LossNorm = LossNorm.PseudoHuber,
        WeightSchedule = WeightSchedule.ImprovedCt,
        Schedule = EmaAndScalesConfig.ImprovedConsistencyTraining(totalSteps),
        IndexSampling = IndexSampling.LogNormal,
    };
}
