// What `cm train` prints about the run it is about to start: the recipe each mode defaults to, in words.
using ConsistencyModels.Cli.Commands;
using ConsistencyModels.Data;
using ConsistencyModels.Training;
using Xunit;

namespace ConsistencyModels.Tests.Cli;

public sealed class TrainPlanTests : IDisposable
{
    private readonly TempDir _tmp = new();
    public void Dispose() => _tmp.Dispose();

    private sealed class NoImages : ITrainingDataset
    {
        public int Count => 1;
        public int Channels => 1;
        public int ImageSize => 32;
        public int? NumClasses => 10;
        public int Read(int index, Span<float> dest) => 0;
        public string Describe(int index) => "none";
    }

    private TrainingOptions Ect(string? recipe) => TrainPlan.From(new TrainCommand.Settings
    {
        Mode = "ect", Preset = "edm_fmnist32", Data = "unused", Output = _tmp.File("run"), Recipe = recipe, TotalTrainingSteps = 800,
    });

    [Fact]
    public void EctDefaultsToOneStageAtQ16AndTheRecipeEctToThePapersStages()
    {
        var plan = TrainPlan.Describe(Ect(null), new NoImages());
        Assert.Contains("ECT: q 16, mapping sigmoid, Huber c 0, one stage; teacher edm_fmnist32", plan);
        plan = TrainPlan.Describe(Ect("ect"), new NoImages());
        Assert.Contains("ECT: q 2, mapping sigmoid, Huber c 0, a new stage every 100 steps (stage 7 at the end); teacher edm_fmnist32", plan);
    }

    [Fact]
    public void IctScalesItsEndScalesToTheRun()
    {
        var o = TrainPlan.From(new TrainCommand.Settings { Mode = "ct", Recipe = "ict", Preset = "fmnist32", Data = "unused", Output = _tmp.File("ict"), TotalTrainingSteps = 1500 });
        Assert.Equal(80, o.Schedule.EndScales);
        o = TrainPlan.From(new TrainCommand.Settings { Mode = "ct", Recipe = "ict", Preset = "fmnist32", Data = "unused", Output = _tmp.File("ict"), TotalTrainingSteps = 1500, EndScales = 1280 });
        Assert.Equal(1280, o.Schedule.EndScales);
    }
}
