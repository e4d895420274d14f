// `cm train --resume`: the run's record (train_state*.json) decides. A corrupt record, another mode or model are refused
// with one line naming the file and both values; another seed, batch, learning rate or EMA rates only with --resume-with-changes;
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
    private void Record(string mode = "Edm", long seed = 5, int batch = 32, double[]? rates = null, ModelConfig? model = null,
                        long? totalSteps = null, double? halfLifeKimg = null, double? rampup = null, string? recipe = null,
                        string? precision = null, double? lr = null) =>
        TrainingCheckpoints.WriteState(Run, new CheckpointManifest(2, mode, seed, batch, rates ?? [0.9, 0.99],
                                                                   ModelConfigJson.ToJson(model ?? Fresh().OnlineModel, indented: false),
                                                                   totalSteps, halfLifeKimg, rampup, recipe, precision, precision is null ? null : 20.002, lr));

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
    public void AnotherLossOrScheduleIsRefusedUnlessAskedFor()
    {
        // A run recorded with another weighting (as when a recipe's default changes between versions, or a flag differs).
        Record(recipe: "edm, weighting Snr");
        AssertOneLine(Resume("--preset", "fmnist32"), StatePath, "--recipe recorded 'edm, weighting Snr', requested 'edm, weighting Karras'", "--resume-with-changes");
        // The same recipe: no complaint (the run goes on to read its data, which does not exist here).
        Record(recipe: TrainingCheckpoints.Recipe(Fresh()));
        var r = Resume("--preset", "fmnist32");
        Assert.Contains("no-data", r.Stderr);
        Assert.DoesNotContain("recorded", r.Stderr);
    }

    [Fact]
    public void ThePrecisionIsTheRunsUnlessGivenAndAnotherIsRefused()
    {
        var fp16 = Fresh() with { Precision = Precision.Fp16 };
        Record(recipe: TrainingCheckpoints.Recipe(fp16), precision: nameof(Precision.Fp16));
        Assert.Equal(Precision.Fp16, TrainPlan.From(new TrainCommand.Settings { Mode = "edm", Data = "unused", Output = Run, Resume = true }).Precision);
        Assert.Equal(Precision.Bf16, TrainPlan.From(new TrainCommand.Settings { Mode = "edm", Data = "unused", Output = Run, ResumeWithChanges = true, Precision = "bf16" }).Precision);
        // An fp32 run resumed in mixed precision trains otherwise: refused, as another recipe is.
        Record(recipe: TrainingCheckpoints.Recipe(Fresh()));
        AssertOneLine(Resume("--preset", "fmnist32", "--precision", "fp16"), StatePath, "--precision recorded fp32, requested fp16", "--resume-with-changes");
        // Also where the record predates the recipe line.
        Record();
        AssertOneLine(Resume("--preset", "fmnist32", "--precision", "bf16"), StatePath, "--precision recorded fp32, requested bf16");
        AssertOneLine(Resume("--preset", "fmnist32", "--precision", "fp8"), "--precision must be fp32, bf16 or fp16 (got 'fp8')");
    }

    [Fact]
    public void TheLearningRateIsTheRunsUnlessGivenAndAnotherIsAChange()
    {
        Record(recipe: TrainingCheckpoints.Recipe(Fresh()), lr: 5e-5);
        Assert.Equal(5e-5, TrainPlan.From(new TrainCommand.Settings { Mode = "edm", Data = "unused", Output = Run, Resume = true }).LearningRate);
        AssertOneLine(Resume("--preset", "fmnist32", "--seed", "5", "--global-batch-size", "32", "--ema-rate", "0.9,0.99", "--lr", "2e-5"),
                      StatePath, "--lr recorded 5E-05, requested 2E-05", "--resume-with-changes");
        // A drop asked for: the checks pass and the run goes on to read its data (which does not exist here).
        var r = Resume("--preset", "fmnist32", "--lr", "2e-5", "--resume-with-changes");
        Assert.Contains("no-data", r.Stderr);
        Assert.DoesNotContain("recorded", r.Stderr);
    }

    [Fact]
    public void ARecordWithoutTheLearningRateTakesTheOptimisersFile()
    {
        Record(recipe: TrainingCheckpoints.Recipe(Fresh()));   // written before the learning rate was kept
        using (var p = TorchSharp.torch.zeros(3))
            RAdamCheckpoint.Save(TrainingCheckpoints.Optimizer(Run, 2), new RAdam([p], new RAdamOptions(3e-4)));
        Assert.Equal(3e-4, TrainPlan.From(new TrainCommand.Settings { Mode = "edm", Data = "unused", Output = Run, Resume = true }).LearningRate);
        Assert.Equal(5e-5, TrainPlan.From(new TrainCommand.Settings { Mode = "edm", Data = "unused", Output = Run, ResumeWithChanges = true, Lr = 5e-5 }).LearningRate);
    }

    [Fact]
    public void OptionsLeftOutAreTakenFromTheRecord()
    {
        Record(seed: 5, batch: 32, rates: [0.9, 0.99], totalSteps: 123, halfLifeKimg: 500, rampup: 0.1);
        // `--resume` with neither the architecture nor the seed, batch, EMA rates or length: the run's own.
        var o = TrainPlan.From(new TrainCommand.Settings { Mode = "edm", Data = "unused", Output = Run, Resume = true });
        Assert.Equal(5, o.Seed);
        Assert.Equal(32, o.GlobalBatchSize);
        Assert.Equal([0.9, 0.99], o.EmaRates);
        Assert.Equal(123, o.Schedule.TotalSteps);
        Assert.Equal(500, o.EmaHalfLifeKimg);
        Assert.Equal(0.1, o.EmaRampupRatio);
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

    [SkippableFact]
    public void ResumeAloneContinuesTheRunBitIdentically()
    {
        string data = Path.GetDirectoryName(Requirements.FashionMnist(Requirements.FashionMnistTrainImages))!;
        string[] first = ["train", "edm", "--preset", "fmnist32", "--data", data, "--seed", "3", "--global-batch-size", "4",
                          "--total-training-steps", "3", "--log-interval", "1", "--sample-columns", "0"];
        string straight = _tmp.File("straight");
        Assert.Equal(0, CmProcess.Run([.. first, "--output", straight]).ExitCode);
        Assert.Equal(0, CmProcess.Run([.. first, "--output", Run, "--max-steps", "1"]).ExitCode);
        // Nothing but --resume: architecture, seed, batch and length come from the run's record.
        var resumed = CmProcess.Run("train", "edm", "--data", data, "--output", Run, "--resume", "--sample-columns", "0");
        Assert.True(resumed.ExitCode == 0, resumed.All);
        Assert.Contains("resumed from step 1", resumed.All);
        Assert.Contains("done at step 3", resumed.All);
        foreach (var name in new[] { "model000003.pt", "ema_0.999_000003.pt", "ema_0.9999_000003.pt", "opt000003.pt" })
            Assert.Equal(Hash(Path.Combine(straight, name)), Hash(Path.Combine(Run, name)));
        Assert.Equal(File.ReadAllText(TrainingCheckpoints.State(straight, 3)), File.ReadAllText(TrainingCheckpoints.State(Run, 3)));
        // The first step trained (a finite loss), on the same batch in both runs.
        Assert.True(double.IsFinite(TrainingLog.Read(Run)[0].Loss));
        Assert.Equal(TrainingLog.Read(straight)[0], TrainingLog.Read(Run)[0]);
    }

    private static string Hash(string path) => $"{Path.GetFileName(path)} {Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path)))}";
}
