// CT for short runs (this project, docs/training.md "CT's missing variety is not N alone"): the released CT loss (l2) with iCT's lognormal pairs, 1/(σᵢ₊₁ − σᵢ) weighting and μ = 0 (Song & Dhariwal 2023, arXiv 2310.14189, §3.2–3.5) and N's end scaled to the run.
using ConsistencyModels.Nn;

namespace ConsistencyModels.Training;

public static partial class TrainingRecipes
{
    /// <summary>
    /// The default of <c>cm train ct</c>: <see cref="Ct"/>'s l2 loss and progressive N(k), ramping 2 →
    /// <see cref="ShortBudgetCtEndScales"/>(K), with iCT's lognormal pairs, λ(σᵢ) = 1/(σᵢ₊₁ − σᵢ) and the target equal
    /// to the online network (μ = 0). At 2,000 steps x 32 on Fashion-MNIST (docs/training.md) it scores FID-FMNIST
    /// 257 with recall 0.21 in one step, where uniform pairs and weighting with N 2 → 10 drew one image per class
    /// (360, recall 0.02) and the released schedule (N 2 → 150 within the run, μ up to 0.9993) one flat grey image.
    /// </summary>
    public static TrainingOptions CtShortBudget(ModelConfig model, string outputDirectory, long totalSteps)
    {
        var released = Ct(model, outputDirectory, totalSteps);
        return released with
        {
            WeightSchedule = WeightSchedule.ImprovedCt,
            IndexSampling = IndexSampling.LogNormal,
            Schedule = released.Schedule with
            {
                TargetEmaMode = TargetEmaMode.Fixed, StartEma = 0, EndScales = ShortBudgetCtEndScales(totalSteps),
            },
        };
    }

    /// <summary>
    /// N(k)'s end for a CT run of <paramref name="totalSteps"/> steps: iCT's s1 for the run
    /// (<see cref="ImprovedCtEndScales"/>: 80 for 782-3,124 steps, the measured setting at 2,000) capped at the released
    /// CT's 150.
    /// </summary>
    public static int ShortBudgetCtEndScales(long totalSteps) => Math.Min(ImprovedCtEndScales(totalSteps), 150);
}
