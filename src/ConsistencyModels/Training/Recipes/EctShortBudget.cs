// ECT for short runs (this project's sweep on one H200, docs/training.md "ECT at short budgets"): Ect with one stage at q 16.
using ConsistencyModels.Nn;

namespace ConsistencyModels.Training;

public static partial class TrainingRecipes
{
    /// <summary>
    /// The default of <c>cm train ect</c>: <see cref="Ect"/> with the gap t − r fixed at its first stage with q 16 for the
    /// whole run (r ≈ 0.7t at small t, 0.94t at large t), where the paper halves it 8 times over 25.6 Mimg. From
    /// <c>edm_fmnist32</c>, 1,000 steps x 256 on one H200 (FID-FMNIST one step / two steps): q 16 in one stage 290 / 95;
    /// the paper's q 2 over 8 stages 635 one step; ECT's 1-hour setting, q 256 in one stage, 767 / 319 (each scored on
    /// its half-life EMA, 500 kimg with ramp-up 0.05: at 0.26 M images the ramp-up, 12.8 kimg, is what set it, as it
    /// does for this recipe's 20 kimg).
    /// </summary>
    public static TrainingOptions EctShortBudget(ModelConfig model, string outputDirectory, long totalSteps)
    {
        var paper = Ect(model, outputDirectory, totalSteps);
        return paper with { Ect = paper.Ect with { Q = 16 }, EctStageSteps = TrainingOptions.EctSingleStage };
    }
}
