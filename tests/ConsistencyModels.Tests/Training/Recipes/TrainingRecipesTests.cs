// The recipes are the settings their sources give, each mode has a default, and names find them.
using ConsistencyModels.Nn;
using ConsistencyModels.Tests.Training.Loop;
using ConsistencyModels.Training;
using Xunit;

namespace ConsistencyModels.Tests.Training.Recipes;

public class TrainingRecipesTests
{
    private static readonly ModelConfig Model = TrainerTests.Tiny(DenoiserKind.Consistency);

    [Theory]
    [InlineData(TrainingMode.Edm, "edm")]
    [InlineData(TrainingMode.ConsistencyDistillation, "cd")]
    [InlineData(TrainingMode.ConsistencyTraining, "ct-short")]
    [InlineData(TrainingMode.EasyConsistencyTuning, "ect-short")]
    public void EachModeHasItsDefaultRecipe(TrainingMode mode, string name)
    {
        var recipe = TrainingRecipes.Default(mode);
        Assert.Equal(name, recipe.Name);
        var o = recipe.Create(Model, "run", 1234);
        Assert.Equal(mode, o.Mode);
        Assert.Equal(1234, o.Schedule.TotalSteps);
        Assert.Equal("run", o.OutputDirectory);
        Assert.Same(Model, o.Model);
    }

    [Fact]
    public void TheRecipesAreTheirSourcesSettings()
    {
        var edm = TrainingRecipes.Edm(Model, "run", 100);
        Assert.Equal(WeightSchedule.Karras, edm.ResolvedWeightSchedule);

        var cd = TrainingRecipes.Cd(Model, "run", 100);
        Assert.Equal((LossNorm.L2, WeightSchedule.Uniform, IndexSampling.Uniform), (cd.LossNorm, cd.ResolvedWeightSchedule, cd.IndexSampling));
        Assert.Equal(new EmaAndScalesConfig(TargetEmaMode.Fixed, 0.95, ScaleMode.Fixed, 40, 40, 100), cd.Schedule);

        var ct = TrainingRecipes.Ct(Model, "run", 100);
        Assert.Equal((LossNorm.L2, WeightSchedule.Uniform, IndexSampling.Uniform), (ct.LossNorm, ct.ResolvedWeightSchedule, ct.IndexSampling));
        Assert.Equal(new EmaAndScalesConfig(TargetEmaMode.Adaptive, 0.95, ScaleMode.Progressive, 2, 150, 100), ct.Schedule);

        // The short-budget default: the released CT's l2 loss and progressive N with iCT's pairs, weighting and μ = 0;
        // N's end is iCT's s1 for the run, capped at the released 150.
        var ctShort = TrainingRecipes.CtShortBudget(Model, "run", 2000);
        Assert.Equal((LossNorm.L2, WeightSchedule.ImprovedCt, IndexSampling.LogNormal), (ctShort.LossNorm, ctShort.ResolvedWeightSchedule, ctShort.IndexSampling));
        Assert.Equal(new EmaAndScalesConfig(TargetEmaMode.Fixed, 0.0, ScaleMode.Progressive, 2, 80, 2000), ctShort.Schedule);
        Assert.Equal([20, 40, 80, 80, 150, 150], new long[] { 100, 500, 782, 3124, 3125, 800_000 }.Select(TrainingRecipes.ShortBudgetCtEndScales));
        // The measured run (runs/short-budget-2000/ct-n80-lognormal-ictw, trained with the options spelt out) is this recipe.
        Assert.Equal("loss L2, weighting ImprovedCt, pairs LogNormal, target EMA Fixed 0 (ReleasedCode), N Progressive 2 -> 80", TrainingCheckpoints.Recipe(ctShort));

        var ict = TrainingRecipes.Ict(Model, "run", 100);
        Assert.Equal(TrainingMode.ConsistencyTraining, ict.Mode);
        Assert.Equal((LossNorm.PseudoHuber, WeightSchedule.ImprovedCt, IndexSampling.LogNormal), (ict.LossNorm, ict.ResolvedWeightSchedule, ict.IndexSampling));
        Assert.Equal(new EmaAndScalesConfig(TargetEmaMode.Fixed, 0.0, ScaleMode.ImprovedCtDoubling, 10, 20, 100), ict.Schedule);
        // s1 = 10·2^round(log2(128·√(K/400k))) within [20, 1280]: the paper's 1280 from 200k steps (its run: 400k).
        Assert.Equal([20, 20, 80, 160, 640, 1280, 1280, 1280], new long[] { 0, 100, 1500, 10_000, 100_000, 200_000, 400_000, 10_000_000 }.Select(TrainingRecipes.ImprovedCtEndScales));
        // The rounding points (log2 at j + 0.5): K = 200,000·4^j/16,384, ties going up.
        Assert.Equal([20, 40, 40, 80, 80, 160, 320, 640, 640, 1280], new long[] { 195, 196, 781, 782, 3124, 3125, 12_500, 50_000, 199_999, 200_000 }.Select(TrainingRecipes.ImprovedCtEndScales));
        Assert.Equal(1280, TrainingRecipes.Ict(Model, "run", 400_000).Schedule.EndScales);

        var ect = TrainingRecipes.Ect(Model, "run", 800);
        Assert.Equal((TrainingMode.EasyConsistencyTuning, 1e-4, 100L), (ect.Mode, ect.LearningRate, ect.EctStageSteps));
        Assert.Equal(new EctLoss(Q: 2, Mapping: EctMapping.Sigmoid, HuberC: 0), ect.Ect);
        Assert.False(ect.HasTarget);
        // The short-budget default: the paper's loss with q 16 and no stage change within any run.
        var ectShort = TrainingRecipes.EctShortBudget(Model, "run", 800);
        Assert.Equal(new EctLoss(Q: 16, Mapping: EctMapping.Sigmoid, HuberC: 0), ectShort.Ect);
        Assert.Equal((0, 0), (ectShort.EctStage(799), ectShort.EctStage(long.MaxValue - 1)));
        Assert.Equal((ect.LearningRate, ect.EmaHalfLifeKimg), (ectShort.LearningRate, ectShort.EmaHalfLifeKimg));
        Assert.Equal(ect.EmaRates, ectShort.EmaRates);
        // What a resume compares: the two ECT schedules read differently, and s1 is part of iCT's.
        Assert.Equal("ect, q 2, mapping Sigmoid, huber c 0, a new stage every 100 steps", TrainingCheckpoints.Recipe(ect));
        Assert.Equal("ect, q 16, mapping Sigmoid, huber c 0, one stage", TrainingCheckpoints.Recipe(ectShort));
        Assert.EndsWith("N ImprovedCtDoubling 10 -> 20", TrainingCheckpoints.Recipe(ict));

        // One EMA-rate default, TrainingOptions', shared by every recipe but ECT's (a short tuning run keeps a half-life EMA).
        foreach (var r in TrainingRecipes.All.Where(r => r.Mode != TrainingMode.EasyConsistencyTuning))
            Assert.Equal([0.999, 0.9999, 0.9999432189950708], r.Create(Model, "run", 100).EmaRates);
    }

    [Fact]
    public void RecipesAreFoundByNameAndNamesAreUnique()
    {
        Assert.Same(TrainingRecipes.All.Single(r => r.Name == "ict"), TrainingRecipes.Find("ICT"));
        Assert.Null(TrainingRecipes.Find("nope"));
        Assert.Equal(TrainingRecipes.All.Count, TrainingRecipes.All.Select(r => r.Name).Distinct().Count());
        // Overrides are `with` on the recipe's options.
        var o = TrainingRecipes.Ict(Model, "run", 100) with { LearningRate = 2e-4 };
        Assert.Equal((2e-4, LossNorm.PseudoHuber), (o.LearningRate, o.LossNorm));
    }
}
