// Consistency distillation as released (openai/consistency_models scripts/launch.sh, CD lines): μ = 0.95 and N = 40 fixed, uniform weighting; l2 (launch.sh: lpips, which needs weights).
using ConsistencyModels.Nn;

namespace ConsistencyModels.Training;

public static partial class TrainingRecipes
{
    public static TrainingOptions Cd(ModelConfig model, string outputDirectory, long totalSteps) => new()
    {
        Mode = TrainingMode.ConsistencyDistillation,
        Model = model,
        OutputDirectory = outputDirectory,
        LossNorm = LossNorm.L2,
        WeightSchedule = WeightSchedule.Uniform,
        Schedule = EmaAndScalesConfig.ConsistencyDistillation(totalSteps),
        IndexSampling = IndexSampling.Uniform,
    };
}
