// `cm train --resume`: the run's record (train_state*.json) decides. A corrupt record, another mode or model are refused
// with one line naming the file and both values; another seed, batch or EMA rates only with --resume-with-changes;
// what the user leaves out is taken from the record. All before the data is read (--data does not exist here).
using ConsistencyModels.Cli.Commands;
using ConsistencyModels.IO;
using ConsistencyModels.Nn;
using ConsistencyModels.Training;
using Xunit;

namespace ConsistencyModels.Tests.Cli;

public sealed class TrainResumeTests : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    private string Run => _tmp.File("run");
    private string StatePath => TrainingCheckpoints.State(Run, 2);

    /// <summary>The options `cm train edm --preset fmnist32` starts a run with.</summary>
    private TrainingOptions Fresh() => TrainPlan.From(new TrainCommand.Settings { Mode = "edm", Preset = "fmnist32", Data = "unused", Output = _tmp.File("fresh") });

    /// <summary>A run folder whose newest complete checkpoint is step 2 of an edm fmnist32 run with these settings.</summary>
    private void Record(string mode = "Edm", long seed = 5, int batch = 32, double[]? rates = null, ModelConfig? model = null) =>
        TrainingCheckpoints.WriteState(Run, new CheckpointManifest(2, mode, seed, batch, rates ?? [0.9, 0.99],
                                                                   ModelConfigJson.ToJson(model ?? Fresh().OnlineModel, indented: false)));

    private CmProcess.Result Resume(params string[] extra) =>
        CmProcess.Run(["train", "edm", "--data", _tmp.File("no-data"), "--output", Run, "--resume", .. extra]);

    private static void AssertOneLine(CmProcess.Result r, params string[] fragments)
    {
        Assert.True(r.ExitCode == 2, $"expected exit code 2:\n{r.All}");
        Assert.DoesNotContain("   at ", r.All);
        Assert.DoesNotContain("Exception", r.All);
        Assert.DoesNotContain("`Seed`", r.All);                 // library property names are mapped to flags
        var error = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", error);
        foreach (var f in fragments) Assert.Contains(f, error);
    }

    [Fact]
    public void ACorruptRecordIsRefusedNamingTheFile()
    {
        Record();
        File.WriteAllText(StatePath, "{\"Step\": 2, \"Mode\": \"Ed");        // cut short
        AssertOneLine(Resume("--preset", "fmnist32"), "--resume", StatePath, "not a readable training state");
    }

    [Fact]
    public void ARunOfAnotherModeIsRefusedNamingBoth()
    {
        Record(mode: nameof(TrainingMode.ConsistencyDistillation));
        AssertOneLine(Resume("--preset", "fmnist32"), StatePath, "records a cd run, requested edm");
    }

    [Fact]
    public void ARunOfAnotherModelIsRefusedNamingTheDifferingKeys()
    {
        Record(model: Fresh().OnlineModel with { NumChannels = 64 });
        AssertOneLine(Resume("--preset", "fmnist32"), StatePath, "another model", "num_channels recorded 64, requested 32");
    }

    [Fact]
    public void AnotherSeedBatchOrEmaRateIsRefusedUnlessAskedFor()
    {
        Record(seed: 5, batch: 32, rates: [0.9, 0.99]);
        string[] changes = ["--preset", "fmnist32", "--seed", "7", "--global-batch-size", "16", "--ema-rate", "0.5"];
        AssertOneLine(Resume(changes), StatePath, "--seed recorded 5, requested 7", "--global-batch-size recorded 32, requested 16",
                      "--ema-rate recorded 0.9,0.99, requested 0.5", "--resume-with-changes");
        // Asked for: the checks pass and the run goes on to read its data (which does not exist here).
        var r = Resume([.. changes, "--resume-with-changes"]);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("no-data", r.Stderr);
        Assert.DoesNotContain("recorded", r.Stderr);
    }

    [Fact]
    public void OptionsLeftOutAreTakenFromTheRecord()
    {
        Record(seed: 5, batch: 32, rates: [0.9, 0.99]);
        // `--resume` with neither the architecture nor the seed, batch or EMA rates: the run's own.
        var o = TrainPlan.From(new TrainCommand.Settings { Mode = "edm", Data = "unused", Output = Run, Resume = true });
        Assert.Equal(5, o.Seed);
        Assert.Equal(32, o.GlobalBatchSize);
        Assert.Equal([0.9, 0.99], o.EmaRates);
        Assert.Equal(ModelConfigJson.ToJson(Fresh().OnlineModel), ModelConfigJson.ToJson(o.OnlineModel));
        Assert.True(o.Resume);
        Assert.False(o.ResumeWithChanges);
        // The same values given explicitly are no change.
        o = TrainPlan.From(new TrainCommand.Settings { Mode = "edm", Preset = "fmnist32", Data = "unused", Output = Run, Resume = true,
                                                        Seed = 5, GlobalBatchSize = 32, EmaRate = "0.9,0.99" });
        Assert.Equal(5, o.Seed);
        // Without the architecture and without a run to take it from: one line saying so.
        var e = Assert.Throws<ArgumentException>(() => TrainPlan.From(new TrainCommand.Settings { Mode = "edm", Data = "unused", Output = _tmp.File("empty"), Resume = true }));
        Assert.Contains("no complete checkpoint", e.Message);
    }
}
