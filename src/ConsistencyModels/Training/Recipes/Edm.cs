// EDM teacher as in cm/scripts/edm_train.py (scripts/launch.sh): lognormal σ (P_mean −1.2, P_std 1.2), Karras weighting.
using ConsistencyModels.Nn;

namespace ConsistencyModels.Training;

public static partial class TrainingRecipes
{
    public static TrainingOptions Edm(ModelConfig model, string outputDirectory, long totalSteps) => new()
    {
        Mode = TrainingMode.Edm,
        Model = model,
        OutputDirectory = outputDirectory,
        WeightSchedule = WeightSchedule.Karras,
        Schedule = EmaAndScalesConfig.ConsistencyDistillation(totalSteps),   // EDM reads only its length
    };
}
