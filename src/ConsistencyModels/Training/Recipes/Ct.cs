// Consistency training as released (openai/consistency_models scripts/launch.sh, CT LSUN-256 lines): adaptive μ from 0.95, N progressive 2 → 150, uniform weighting; l2.
using ConsistencyModels.Nn;

namespace ConsistencyModels.Training;

public static partial class TrainingRecipes
{
    public static TrainingOptions Ct(ModelConfig model, string outputDirectory, long totalSteps) => new()
    {
        Mode = TrainingMode.ConsistencyTraining,
        Model = model,
        OutputDirectory = outputDirectory,
        LossNorm = LossNorm.L2,
        WeightSchedule = WeightSchedule.Uniform,
        Schedule = EmaAndScalesConfig.ConsistencyTrainingLsun256 with { TotalSteps = totalSteps },
        IndexSampling = IndexSampling.Uniform,
    };
}
