// Easy Consistency Tuning (Geng et al., ICLR 2025, arXiv 2406.14548; locuslab/ect run_ecm.sh, training/loss.py ECMLoss).
using ConsistencyModels.Nn;

namespace ConsistencyModels.Training;

public static partial class TrainingRecipes
{
    /// <summary>
    /// ECT from an EDM teacher: lognormal t (P_mean −1.1, P_std 2), sigmoid mapping (k 8, b 1), q 2, L2 distance over
    /// t − r, RAdam at 1e-4 as their CIFAR-10 runs. They halve the gap 8 times over a run (25.6 Mimg, a new stage every
    /// 3.2 Mimg); the stages here are scaled to the run the same way: a new one every eighth of it.
    /// </summary>
    public static TrainingOptions Ect(ModelConfig model, string outputDirectory, long totalSteps) => new()
    {
        Mode = TrainingMode.EasyConsistencyTuning,
        Model = model,
        OutputDirectory = outputDirectory,
        LearningRate = 1e-4,
        Ect = new EctLoss(Q: 2, Mapping: EctMapping.Sigmoid, HuberC: 0),
        EctStageSteps = Math.Max(1, totalSteps / 8),
        EmaRates = [0.999],
        EmaHalfLifeKimg = 20,
        Schedule = EmaAndScalesConfig.ConsistencyDistillation(totalSteps),   // ECT reads only its length
    };
}
