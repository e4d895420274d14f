// CT for short runs (this project, docs/training.md "CT and iCT at short budgets"): the released CT loss with N(k)'s end scaled to the run length and no target EMA (μ = 0, as iCT: Song & Dhariwal 2023, arXiv 2310.14189, §3.2).
using ConsistencyModels.Nn;

namespace ConsistencyModels.Training;

public static partial class TrainingRecipes
{
    /// <summary>
    /// The default of <c>cm train ct</c>: <see cref="Ct"/> with N(k) ramping 2 → <see cref="ScaledEndScales"/>(K) and the
    /// target equal to the online network (μ = 0). At 1,500 steps x 32 on Fashion-MNIST the released schedule (N 2 → 150
    /// within the run, μ up to 0.9993) collapses to one flat grey image (FID-FMNIST 1,555), this one draws each class
    /// (394); runs of 800k steps get the released N 2 → 150.
    /// </summary>
    public static TrainingOptions CtShortBudget(ModelConfig model, string outputDirectory, long totalSteps)
    {
        var released = Ct(model, outputDirectory, totalSteps);
        return released with
        {
            Schedule = released.Schedule with { TargetEmaMode = TargetEmaMode.Fixed, StartEma = 0, EndScales = ScaledEndScales(totalSteps) },
        };
    }

    /// <summary>
    /// N(k)'s end for a run of <paramref name="totalSteps"/> steps: the released schedule's steps per N² (800k steps for
    /// N 2 → 150, so each level is held for as many steps, relative to its size, as there), never fewer than 10 levels.
    /// </summary>
    public static int ScaledEndScales(long totalSteps) =>
        (int)Math.Clamp(Math.Round(Math.Sqrt(totalSteps * (151.0 * 151.0) / 800_000)) - 1, 10, 150);
}
