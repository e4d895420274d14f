// What `cm train` prints about the run it is about to start: the recipe each mode defaults to, in words.
using ConsistencyModels.Cli.Commands;
using ConsistencyModels.Tests.Training.Loop;
using ConsistencyModels.Training;
using Xunit;

namespace ConsistencyModels.Tests.Cli;

public sealed class TrainPlanTests : IDisposable
{
    private readonly TempDir _tmp = new();
    public void Dispose() => _tmp.Dispose();

    private TrainingOptions Ect(string? recipe) => TrainPlan.From(new TrainCommand.Settings
    {
        Mode = "ect", Preset = "edm_fmnist32", Data = "unused", Output = _tmp.File("run"), Recipe = recipe, TotalTrainingSteps = 800,
    });

    [Fact]
    public void EctDefaultsToOneStageAtQ16AndTheRecipeEctToThePapersStages()
    {
        var plan = TrainPlan.Describe(Ect(null), new TrainerTests.SyntheticData(1, 1, 32));
        Assert.Contains("recipe: ect, q 16, mapping Sigmoid, huber c 0, one stage; teacher edm_fmnist32", plan);
        plan = TrainPlan.Describe(Ect("ect"), new TrainerTests.SyntheticData(1, 1, 32));
        Assert.Contains("recipe: ect, q 2, mapping Sigmoid, huber c 0, a new stage every 100 steps (stage 7 at the end); teacher edm_fmnist32", plan);
    }

    [Fact]
    public void MixedPrecisionIsNamedInTheRecipeLine()
    {
        var o = TrainPlan.From(new TrainCommand.Settings { Mode = "edm", Preset = "fmnist32", Data = "unused", Output = _tmp.File("edm"), Precision = "bf16" });
        Assert.Equal(ConsistencyModels.Nn.Precision.Bf16, o.Precision);
        Assert.Contains("recipe: edm, weighting Karras, mixed precision bf16", TrainPlan.Describe(o, new TrainerTests.SyntheticData(1, 1, 32)));
        o = TrainPlan.From(new TrainCommand.Settings { Mode = "edm", Preset = "fmnist32", Data = "unused", Output = _tmp.File("edm") });
        Assert.DoesNotContain("mixed precision", TrainPlan.Describe(o, new TrainerTests.SyntheticData(1, 1, 32)));
    }

    [Fact]
    public void IctScalesItsEndScalesToTheRun()
    {
        var o = TrainPlan.From(new TrainCommand.Settings { Mode = "ct", Recipe = "ict", Preset = "fmnist32", Data = "unused", Output = _tmp.File("ict"), TotalTrainingSteps = 1500 });
        Assert.Equal(80, o.Schedule.EndScales);
        o = TrainPlan.From(new TrainCommand.Settings { Mode = "ct", Recipe = "ict", Preset = "fmnist32", Data = "unused", Output = _tmp.File("ict"), TotalTrainingSteps = 1500, EndScales = 1280 });
        Assert.Equal(1280, o.Schedule.EndScales);
    }

    [Fact]
    public void PairSamplingIsChosenForCtAndRefusedElsewhere()
    {
        TrainingOptions Plan(string mode, string? recipe, string? pairs) => TrainPlan.From(new TrainCommand.Settings
        {
            Mode = mode, Recipe = recipe, Preset = mode == "ect" ? "edm_fmnist32" : "fmnist32", Data = "unused", Output = _tmp.File(mode), PairSampling = pairs,
        });
        Assert.Equal(IndexSampling.LogNormal, Plan("ct", null, null).IndexSampling);
        Assert.Equal(IndexSampling.Uniform, Plan("ct", "ct", null).IndexSampling);
        Assert.Equal(IndexSampling.LogNormal, Plan("ct", "ict", null).IndexSampling);
        var lognormal = Plan("ct", "ct", "LogNormal");
        Assert.Equal(IndexSampling.LogNormal, lognormal.IndexSampling);
        Assert.Contains("pairs LogNormal", TrainingCheckpoints.Recipe(lognormal));
        Assert.Contains("pairs Uniform", TrainingCheckpoints.Recipe(Plan("ct", null, "uniform")));
        Assert.Equal(IndexSampling.Uniform, Plan("ct", "ict", "uniform").IndexSampling);
        Assert.Contains("--pair-sampling must be uniform or lognormal (got 'normal')", Assert.Throws<ArgumentException>(() => Plan("ct", null, "normal")).Message);
        Assert.Contains("applies to cd and ct", Assert.Throws<ArgumentException>(() => Plan("edm", null, "lognormal")).Message);
        Assert.Contains("applies to cd and ct", Assert.Throws<ArgumentException>(() => Plan("ect", null, "uniform")).Message);
        Assert.Equal(IndexSampling.LogNormal, Plan("cd", null, "lognormal").IndexSampling);
    }
}
