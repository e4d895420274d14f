// The training loop end to end on a tiny UNet: official checkpoint layout, bit-identical resume, bad input.
using ConsistencyModels.Cli.Reporting;
using ConsistencyModels.IO.Checkpoints;
using ConsistencyModels.Nn;
using ConsistencyModels.Presets;
using ConsistencyModels.Training;
using ConsistencyModels.Data;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Training.Loop;

[Collection(GlobalRngCollection.Name)]
public class TrainerTests
{
    internal static ModelConfig Tiny(DenoiserKind kind) => new()
    {
        ImageSize = 16, NumChannels = 32, NumResBlocks = 1, ChannelMult = [1, 1], AttentionResolutions = [8], NumHeadChannels = 16,
        ClassCond = true, NumClasses = 3, UseScaleShiftNorm = true, ResblockUpdown = true, InChannels = 1, OutChannels = 1,
        Dropout = kind == DenoiserKind.Edm ? 0.1 : 0.0, Denoiser = kind,
    };

    /// <summary>Random 16x16 one-channel images with labels 0..2, generated from a seed.</summary>
    internal sealed class SyntheticData(int count, int channels = 1, int size = 16) : ITrainingDataset
    {
        public int Count => count;
        public int Channels => channels;
        public int ImageSize => size;
        public int? NumClasses => 3;
        public int Read(int index, Span<float> dest)
        {
            var rng = new Random(index);
            for (int i = 0; i < dest.Length; i++) dest[i] = (float)(rng.NextDouble() * 2 - 1);
            return index % 3;
        }
        public string Describe(int index) => $"synthetic #{index}";
    }

    internal static TrainingOptions Options(TrainingMode mode, string dir, long total, string? teacher = null) => new()
    {
        Mode = mode, Model = Tiny(mode == TrainingMode.Edm ? DenoiserKind.Edm : DenoiserKind.Consistency), OutputDirectory = dir,
        GlobalBatchSize = 4, Microbatch = 2, LearningRate = 1e-3, EmaRates = [0.9, 0.99], EmaHalfLifeKimg = 0.02, SaveInterval = 2, LogInterval = 1,
        Schedule = new EmaAndScalesConfig(mode == TrainingMode.ConsistencyTraining ? TargetEmaMode.Adaptive : TargetEmaMode.Fixed, 0.95,
                                          mode == TrainingMode.ConsistencyTraining ? ScaleMode.Progressive : ScaleMode.Fixed, 2, 10, total),
        TeacherPath = teacher, Seed = 5, EctStageSteps = 2,
    };

    /// <summary>A random EDM network saved as a teacher file.</summary>
    internal static string Teacher(TempDir tmp)
    {
        var teacher = tmp.File("teacher.pt");
        manual_seed(9);
        using var t = new UNetModel(Tiny(DenoiserKind.Edm));
        TorchCheckpoint.Save(teacher, t.state_dict());
        return teacher;
    }

    /// <summary>What `cm train` adds at each save: a sample grid of 2 columns and the plots.</summary>
    private static TrainingReport Report(string dir) => new(dir, 2, 3, "test", message => throw new InvalidOperationException(message));

    [Theory]
    [InlineData(TrainingMode.Edm)]
    [InlineData(TrainingMode.ConsistencyTraining)]
    [InlineData(TrainingMode.ConsistencyDistillation)]
    [InlineData(TrainingMode.EasyConsistencyTuning)]     // resumed at step 2, where its stage advances
    public void ResumedRunEqualsUninterruptedRun(TrainingMode mode)
    {
        using var tmp = new TempDir();
        var data = new SyntheticData(10);
        string? teacher = mode is TrainingMode.ConsistencyDistillation or TrainingMode.EasyConsistencyTuning ? Teacher(tmp) : null;
        string straight = tmp.File("straight"), resumed = tmp.File("resumed");
        using (var a = new Trainer(Options(mode, straight, 4, teacher), data)) a.Run(default, Report(straight));
        using (var b = new Trainer(Options(mode, resumed, 4, teacher) with { MaxSteps = 2 }, data)) b.Run(default, Report(resumed));
        using (var c = new Trainer(Options(mode, resumed, 4, teacher) with { Resume = true }, data))
        {
            Assert.Equal(2, c.Step);
            Assert.Equal(new TrainingEnd(4, false, TrainingCheckpoints.State(resumed, 4)), c.Run(default, Report(resumed)));
            Assert.Equal(4, c.Step);
        }
        var names = new List<string> { "model000004.pt", "ema_0.9_000004.pt", "ema_0.99_000004.pt", "ema_hl0.02kimg_000004.pt", "opt000004.pt" };
        if (mode is TrainingMode.ConsistencyDistillation or TrainingMode.ConsistencyTraining) names.Add("target_model000004.pt");
        Assert.Equal(names.Count == 6, File.Exists(Path.Combine(straight, "target_model000004.pt")));
        foreach (var name in names)
        {
            var x = TorchCheckpoint.ReadGraph(Path.Combine(straight, name));
            var y = TorchCheckpoint.ReadGraph(Path.Combine(resumed, name));
            AssertSameGraph(name, x, y);
        }
        // config.json describes the trained network for `cm generate --model-config`.
        Assert.Equal(ConsistencyModels.IO.ModelConfigJson.ToJson(Options(mode, resumed, 4, teacher).OnlineModel), ConsistencyModels.IO.ModelConfigJson.ToJson(ConsistencyModels.IO.ModelConfigJson.Load(Path.Combine(resumed, "config.json"))));
        // The report redraws the curves at every save, from the log (truncated on resume, so both runs log the same losses).
        Assert.True(File.Exists(TrainingPlots.LossPath(resumed)));
        Assert.Equal(mode is TrainingMode.ConsistencyDistillation or TrainingMode.ConsistencyTraining, File.Exists(TrainingPlots.SchedulePath(resumed)));
        Assert.Equal(TrainingLog.Read(straight), TrainingLog.Read(resumed));
        // Training moved the weights (so the equality above is not trivial).
        var m2 = TorchCheckpoint.LoadStateDict(Path.Combine(straight, "model000002.pt"));
        var m4 = TorchCheckpoint.LoadStateDict(Path.Combine(straight, "model000004.pt"));
        Assert.Contains(m2.Keys, k => !m2[k].equal(m4[k]).all().item<bool>());
        Assert.True(File.Exists(Path.Combine(straight, "samples000004.png")));
        Assert.Equal(4, TrainingLog.Read(straight).Count);
        Assert.Equal(TrainingLog.Read(straight).Select(r => r.Loss), TrainingLog.Read(resumed).Select(r => r.Loss));
    }

    [Fact]
    public void TemporaryFilesOfAKilledSaveAreRemovedWhenTheNextRunStarts()
    {
        using var tmp = new TempDir();
        using (var a = new Trainer(Options(TrainingMode.Edm, tmp.Path, 4) with { MaxSteps = 2 }, new SyntheticData(10))) a.Run();
        // A save of step 4 killed while writing its model and optimiser files.
        string[] orphans = [tmp.File($".model000004.pt.{Guid.NewGuid():N}.tmp"), tmp.File($".opt000004.pt.{Guid.NewGuid():N}.tmp")];
        foreach (var f in orphans) File.WriteAllBytes(f, [1, 2, 3]);
        var log = new List<string>();
        using (var b = new Trainer(Options(TrainingMode.Edm, tmp.Path, 4) with { Resume = true }, new SyntheticData(10), log: log.Add))
            Assert.Equal(2, b.Step);
        Assert.All(orphans, f => Assert.False(File.Exists(f), f));
        Assert.Contains(log, l => l.Contains("removed 2 temporary file(s)"));
        Assert.True(File.Exists(TrainingCheckpoints.Model(tmp.Path, 2)));
    }

    [Fact]
    public void ResumeRefusesAnotherSeedOrARecordThatIsNotOneAndAllowsChangesWhenAsked()
    {
        using var tmp = new TempDir();
        var data = new SyntheticData(10);
        using (var a = new Trainer(Options(TrainingMode.Edm, tmp.Path, 4) with { MaxSteps = 2 }, data)) a.Run();
        var state = TrainingCheckpoints.State(tmp.Path, 2);
        var e = Assert.Throws<ArgumentException>(() => new Trainer(Options(TrainingMode.Edm, tmp.Path, 4) with { Resume = true, Seed = 6, GlobalBatchSize = 2 }, data));
        Assert.Contains(state, e.Message);
        Assert.Contains("`Seed` recorded 5, requested 6; `GlobalBatchSize` recorded 4, requested 2", e.Message);
        Assert.Contains("`ResumeWithChanges`", e.Message);
        double lr = Options(TrainingMode.Edm, tmp.Path, 4).LearningRate;
        Assert.Equal(lr, TrainingCheckpoints.ReadState(tmp.Path, 2).LearningRate);
        e = Assert.Throws<ArgumentException>(() => new Trainer(Options(TrainingMode.Edm, tmp.Path, 4) with { Resume = true, LearningRate = lr / 4 }, data));
        Assert.Contains(FormattableString.Invariant($"`LearningRate` recorded {lr}, requested {lr / 4}"), e.Message);
        var m = Assert.Throws<InvalidDataException>(() => new Trainer(Options(TrainingMode.ConsistencyTraining, tmp.Path, 4) with { Resume = true }, data));
        Assert.Contains("records a Edm run, requested ConsistencyTraining", m.Message);

        // Asked for: a new EMA rate starts from the resumed online weights (upstream keeps a copy of the master parameters).
        // A new learning rate applies from the resumed step (the optimiser file's own is replaced) and is recorded.
        using (var c = new Trainer(Options(TrainingMode.Edm, tmp.Path, 4) with { Resume = true, ResumeWithChanges = true, Seed = 6, EmaRates = [0.9, 0.5], LearningRate = lr / 4, MaxSteps = 4 }, data))
        {
            Assert.Equal(2, c.Step);
            Assert.Equal(lr / 4, c.State.Optimizer.Options.LearningRate);
            var fresh = c.State.Emas.Single(x => x.Rate == 0.5 && x.HalfLifeKimg is null);
            var kept = c.State.Emas.Single(x => x.Rate == 0.9);
            Assert.All(fresh.Parameters.Zip(c.State.Parameters), p => Assert.True(p.First.equal(p.Second).all().item<bool>()));
            Assert.Contains(kept.Parameters.Zip(c.State.Parameters), p => !p.First.equal(p.Second).all().item<bool>());
            c.Run();
        }
        Assert.Equal(lr / 4, TrainingCheckpoints.ReadState(tmp.Path, 4).LearningRate);
        // A record from before the learning rate was kept: the optimiser file's rate is the run's, another is a change.
        TrainingCheckpoints.WriteState(tmp.Path, TrainingCheckpoints.ReadState(tmp.Path, 4) with { LearningRate = null });
        e = Assert.Throws<ArgumentException>(() => new Trainer(Options(TrainingMode.Edm, tmp.Path, 4) with { Resume = true, Seed = 6, EmaRates = [0.9, 0.5] }, data));
        Assert.Contains(FormattableString.Invariant($"{TrainingCheckpoints.Optimizer(tmp.Path, 4)} holds `LearningRate` {lr / 4}, requested {lr}"), e.Message);
        using (var d = new Trainer(Options(TrainingMode.Edm, tmp.Path, 4) with { Resume = true, Seed = 6, EmaRates = [0.9, 0.5], LearningRate = lr / 4 }, data))
            Assert.Equal(lr / 4, d.State.Optimizer.Options.LearningRate);
        state = TrainingCheckpoints.State(tmp.Path, 4);

        File.WriteAllText(state, "{\"Step\": 2, \"Mo");
        m = Assert.Throws<InvalidDataException>(() => new Trainer(Options(TrainingMode.Edm, tmp.Path, 4) with { Resume = true }, data));
        Assert.StartsWith($"`Resume`: {state} is not a readable training state", m.Message);
    }

    [Theory]
    [InlineData(TrainingMode.Edm)]
    [InlineData(TrainingMode.ConsistencyTraining)]
    [InlineData(TrainingMode.ConsistencyDistillation)]
    [InlineData(TrainingMode.EasyConsistencyTuning)]
    public void FlatBuffersTrainExactlyAsPerTensorUpdates(TrainingMode mode)
    {
        // The fused update over flat buffers must be the per-tensor loop to the bit: same weights, EMAs, target,
        // optimizer state and losses, also when a per-tensor run is resumed with flat buffers.
        using var tmp = new TempDir();
        var data = new SyntheticData(10);
        string? teacher = mode is TrainingMode.ConsistencyDistillation or TrainingMode.EasyConsistencyTuning ? Teacher(tmp) : null;
        string perTensor = tmp.File("per-tensor"), flat = tmp.File("flat");
        using (var a = new Trainer(Options(mode, perTensor, 4, teacher) with { FlatParameters = false }, data)) a.Run(default, Report(perTensor));
        using (var b = new Trainer(Options(mode, flat, 4, teacher) with { FlatParameters = false, MaxSteps = 2 }, data)) b.Run(default, Report(flat));
        using (var c = new Trainer(Options(mode, flat, 4, teacher) with { FlatParameters = true, Resume = true }, data)) c.Run(default, Report(flat));
        var names = new List<string> { "model000004.pt", "ema_0.9_000004.pt", "ema_0.99_000004.pt", "ema_hl0.02kimg_000004.pt", "opt000004.pt" };
        if (mode is TrainingMode.ConsistencyDistillation or TrainingMode.ConsistencyTraining) names.Add("target_model000004.pt");
        foreach (var name in names)
            AssertSameGraph(name, TorchCheckpoint.ReadGraph(Path.Combine(perTensor, name)), TorchCheckpoint.ReadGraph(Path.Combine(flat, name)));
        Assert.Equal(TrainingLog.Read(perTensor).Select(r => r.Loss), TrainingLog.Read(flat).Select(r => r.Loss));
    }

    [Theory]
    [InlineData(TrainingMode.Edm, -1)]
    [InlineData(TrainingMode.Edm, 2)]
    [InlineData(TrainingMode.EasyConsistencyTuning, -1)]
    public void FlatBuffersFromTheFirstStepEqualPerTensorUpdates(TrainingMode mode, int microbatch)
    {
        // A fresh run on flat buffers (no resume: nothing is loaded into them) must also be the per-tensor run.
        using var tmp = new TempDir();
        var data = new SyntheticData(10);
        string? teacher = mode == TrainingMode.EasyConsistencyTuning ? Teacher(tmp) : null;
        string perTensor = tmp.File("per-tensor"), flat = tmp.File("flat");
        using (var a = new Trainer(Options(mode, perTensor, 4, teacher) with { FlatParameters = false, Microbatch = microbatch }, data)) a.Run(default, Report(perTensor));
        using (var b = new Trainer(Options(mode, flat, 4, teacher) with { FlatParameters = true, Microbatch = microbatch }, data)) b.Run(default, Report(flat));
        Assert.All(TrainingLog.Read(flat), r => Assert.True(double.IsFinite(r.Loss), $"step {r.Step}: loss {r.Loss}"));
        Assert.Equal(TrainingLog.Read(perTensor).Select(r => r.Loss), TrainingLog.Read(flat).Select(r => r.Loss));
        foreach (var name in new[] { "model000004.pt", "ema_hl0.02kimg_000004.pt", "opt000004.pt" })
            AssertSameGraph(name, TorchCheckpoint.ReadGraph(Path.Combine(perTensor, name)), TorchCheckpoint.ReadGraph(Path.Combine(flat, name)));
    }

    [Fact]
    public void CheckpointsUseTheModelKeys()
    {
        using var tmp = new TempDir();
        using (var t = new Trainer(Options(TrainingMode.ConsistencyTraining, tmp.Path, 2), new SyntheticData(8))) t.Run();
        using var model = new UNetModel(Tiny(DenoiserKind.Consistency));
        foreach (var file in new[] { "model000002.pt", "target_model000002.pt", "ema_0.99_000002.pt" })
        {
            var sd = TorchCheckpoint.LoadStateDict(Path.Combine(tmp.Path, file));
            Assert.Equal(model.state_dict().Keys, sd.Keys);
            foreach (var v in sd.Values) v.Dispose();
        }
        Assert.Equal(2L, TrainingCheckpoints.Latest(tmp.Path));
    }

    /// <summary>Counts the saves and cancels the run once it has logged <paramref name="cancelAt"/>.</summary>
    private sealed class CancelAt(long cancelAt, CancellationTokenSource cancel) : ITrainingObserver
    {
        public List<long> Saves { get; } = [];
        public void OnLog(TrainingProgress progress) { if (progress.Step == cancelAt) cancel.Cancel(); }
        public void OnSave(TrainingProgress progress, TrainingState state) => Saves.Add(state.Step);
    }

    [Theory]
    [InlineData(1, new long[] { 1 })]          // between saves: the loop saves the step it stops at
    [InlineData(2, new long[] { 2 })]          // on a save: saved once, not again
    public void AnInterruptedRunSavesTheStepItStopsAtOnce(long cancelAt, long[] saves)
    {
        using var tmp = new TempDir();
        using var cancel = new CancellationTokenSource();
        var observer = new CancelAt(cancelAt, cancel);
        using var t = new Trainer(Options(TrainingMode.ConsistencyTraining, tmp.Path, 4), new SyntheticData(8));
        var end = t.Run(cancel.Token, observer);
        Assert.Equal(new TrainingEnd(cancelAt, true, TrainingCheckpoints.State(tmp.Path, cancelAt)), end);
        Assert.Equal(saves, observer.Saves);
        Assert.Equal(cancelAt, TrainingCheckpoints.Latest(tmp.Path));
    }

    [Fact]
    public void ARunCancelledBeforeItsFirstStepSavesNothing()
    {
        using var tmp = new TempDir();
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();
        using var t = new Trainer(Options(TrainingMode.Edm, tmp.Path, 4), new SyntheticData(8));
        Assert.Equal(new TrainingEnd(0, true, null), t.Run(cancel.Token));
        Assert.Null(TrainingCheckpoints.Latest(tmp.Path));
    }

    [Fact]
    public void BadInputIsRefusedWithReasons()
    {
        using var tmp = new TempDir();
        var e = Assert.Throws<ArgumentException>(() => new Trainer(Options(TrainingMode.Edm, tmp.Path, 2), new SyntheticData(4, channels: 3)));
        Assert.Contains("channel", e.Message);
        e = Assert.Throws<ArgumentException>(() => new Trainer(Options(TrainingMode.Edm, tmp.Path, 2), new SyntheticData(4, size: 32)));
        Assert.Contains("image_size", e.Message);
        e = Assert.Throws<ArgumentException>(() => new Trainer(Options(TrainingMode.ConsistencyDistillation, tmp.Path, 2), new SyntheticData(4)));
        Assert.Contains("`TeacherPath`", e.Message);
        Assert.Throws<FileNotFoundException>(() => new Trainer(Options(TrainingMode.ConsistencyDistillation, tmp.Path, 2, tmp.File("missing.pt")), new SyntheticData(4)));
    }

    [Fact]
    public void EctStartsFromItsTeacherAndKeepsNoTargetNetwork()
    {
        using var tmp = new TempDir();
        var teacher = Teacher(tmp);
        using var t = new Trainer(Options(TrainingMode.EasyConsistencyTuning, tmp.File("run"), 2, teacher), new SyntheticData(8));
        Assert.Null(t.State.Target);
        Assert.Null(t.State.Teacher);                       // used once, for the initialisation
        Assert.Equal(DenoiserKind.Edm, t.State.OnlineScalings.Kind);     // trains under the teacher's scalings
        Assert.Equal(DenoiserKind.Consistency, t.State.Online.Config.Denoiser);   // samples under the boundary ones
        var sd = TorchCheckpoint.LoadStateDict(teacher);
        foreach (var (name, p) in t.State.Online.named_parameters()) Assert.True(p.equal(sd[name]).all().item<bool>(), name);
    }

    [Fact]
    public void EctStagesAdvanceEveryStageStepsAndChangeThePairs()
    {
        var o = Options(TrainingMode.EasyConsistencyTuning, "run", 10) with { EctStageSteps = 3 };
        Assert.Equal([0, 0, 0, 1, 1, 1, 2, 2, 2, 3], Enumerable.Range(0, 10).Select(k => o.EctStage(k)));
        // The recipe scales its 8 stages to the run, as ECT's 25.6 Mimg with a stage every 3.2 Mimg.
        Assert.Equal(250, TrainingRecipes.Ect(o.Model, "run", 2000).EctStageSteps);
        Assert.Equal(1, TrainingRecipes.Ect(o.Model, "run", 5).EctStageSteps);
        using var t = tensor(new float[] { 1f, 10f });
        using var r0 = (o.Ect with { Stage = 0 }).R(t);
        using var r1 = (o.Ect with { Stage = 1 }).R(t);
        Assert.True((r1 > r0).all().item<bool>());           // a later stage: r nearer to t
    }

    [Fact]
    public void EctGoesOnFromAnEarlierEctResult()
    {
        using var tmp = new TempDir();
        var data = new SyntheticData(8);
        var first = tmp.File("first");
        using (var a = new Trainer(Options(TrainingMode.EasyConsistencyTuning, first, 2, Teacher(tmp)), data)) a.Run(default, Report(first));
        // The run's EMA (its config.json says consistency; its train_state says ECT) and the same weights as a
        // converted safetensors file whose "recipe" metadata names ECT: both start a second tuning (at a smaller gap).
        var ema = Path.Combine(first, "ema_hl0.02kimg_000002.pt");
        Assert.Equal(DenoiserKind.Consistency, ModelSpec.DenoiserOf(ema));
        var emaWeights = TorchCheckpoint.LoadStateDict(ema);
        var converted = Path.Combine(Directory.CreateDirectory(tmp.File("converted")).FullName, "ect.safetensors");
        File.WriteAllText(Path.Combine(Path.GetDirectoryName(converted)!, "config.json"), ConsistencyModels.IO.ModelConfigJson.ToJson(Tiny(DenoiserKind.Consistency)));
        Safetensors.Save(converted, emaWeights, new Dictionary<string, string> { ["recipe"] = "recipe: ect, q 16, mapping Sigmoid, huber c 0, one stage" });
        foreach (var (from, run) in new[] { (ema, "second"), (converted, "third") })
        {
            using var t = new Trainer(Options(TrainingMode.EasyConsistencyTuning, tmp.File(run), 2, from) with { Ect = new EctLoss(Q: 64) }, data);
            foreach (var (name, p) in t.State.Online.named_parameters()) Assert.True(p.equal(emaWeights[name]).all().item<bool>(), $"{run}: {name}");
        }
        // Without the ECT recipe the same weights are a consistency model of unknown training: refused.
        Safetensors.Save(converted, emaWeights);
        var e = Assert.Throws<ArgumentException>(() => new Trainer(Options(TrainingMode.EasyConsistencyTuning, tmp.File("fourth"), 2, converted), data));
        Assert.Contains("or an earlier ECT result", e.Message);
        // CD accepts only EDM teachers, ECT results included.
        e = Assert.Throws<ArgumentException>(() => new Trainer(Options(TrainingMode.ConsistencyDistillation, tmp.File("fifth"), 2, ema), data));
        Assert.Contains("the teacher must be an EDM model", e.Message);
        Assert.DoesNotContain("ECT result", e.Message);
        foreach (var w in emaWeights.Values) w.Dispose();
        // Built-in models by name: the default was tuned by ECT (its recipe metadata says so), the iCT model was not.
        Assert.True(TrainingCheckpoints.TunedByEct("ect_fmnist32"));
        Assert.False(TrainingCheckpoints.TunedByEct("ict_fmnist32"));
    }

    [Fact]
    public void EctRefusesBadTeachersAndSchedulesWithOneLine()
    {
        using var tmp = new TempDir();
        var data = new SyntheticData(4);
        var e = Assert.Throws<ArgumentException>(() => new Trainer(Options(TrainingMode.EasyConsistencyTuning, tmp.File("a"), 2), data));
        Assert.Contains("`TeacherPath` is required", e.Message);
        var teacher = Teacher(tmp);
        // r never moves: q <= 1 keeps r at 0 at every stage.
        e = Assert.Throws<ArgumentException>(() => new Trainer(Options(TrainingMode.EasyConsistencyTuning, tmp.File("b"), 2, teacher) with { Ect = new EctLoss(Q: 1) }, data));
        Assert.Contains("`Q` must be above 1", e.Message);
        // ... or r reaches t within float32 rounding: 30 stages of q = 2.
        e = Assert.Throws<ArgumentException>(() => new Trainer(Options(TrainingMode.EasyConsistencyTuning, tmp.File("c"), 60, teacher) with { EctStageSteps = 2 }, data));
        Assert.Contains("float32 rounding", e.Message);
        // A consistency model as the teacher: a CD run's checkpoint (its config.json says so).
        var cdRun = Directory.CreateDirectory(tmp.File("cdrun")).FullName;
        File.Copy(teacher, Path.Combine(cdRun, "ema_0.999_000002.pt"));
        File.WriteAllText(Path.Combine(cdRun, "config.json"), ConsistencyModels.IO.ModelConfigJson.ToJson(Tiny(DenoiserKind.Consistency)));
        e = Assert.Throws<ArgumentException>(() => new Trainer(Options(TrainingMode.EasyConsistencyTuning, tmp.File("d"), 2, Path.Combine(cdRun, "ema_0.999_000002.pt")), data));
        Assert.Contains("is a consistency model", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        // A teacher of another architecture cannot be tuned.
        var other = tmp.File("other.pt");
        using (var m = new UNetModel(Tiny(DenoiserKind.Edm) with { NumResBlocks = 2 })) TorchCheckpoint.Save(other, m.state_dict());
        Assert.ThrowsAny<Exception>(() => new Trainer(Options(TrainingMode.EasyConsistencyTuning, tmp.File("e"), 2, other), data));
    }

    internal static void AssertSameGraph(string where, object? x, object? y)
    {
        switch (x)
        {
            case Tensor tx:
                var ty = Assert.IsAssignableFrom<Tensor>(y);
                Assert.True(tx.shape.SequenceEqual(ty.shape) && tx.dtype == ty.dtype && tx.equal(ty).all().item<bool>(), $"{where}: tensors differ");
                break;
            case System.Collections.IDictionary dx:
                var dy = Assert.IsAssignableFrom<System.Collections.IDictionary>(y);
                Assert.Equal(dx.Count, dy.Count);
                foreach (System.Collections.DictionaryEntry kv in dx) AssertSameGraph($"{where}.{kv.Key}", kv.Value, dy[kv.Key]);
                break;
            case System.Collections.IList lx when x is not string:
                var ly = Assert.IsAssignableFrom<System.Collections.IList>(y);
                Assert.Equal(lx.Count, ly.Count);
                for (int i = 0; i < lx.Count; i++) AssertSameGraph($"{where}[{i}]", lx[i], ly[i]);
                break;
            default:
                Assert.Equal(x, y);
                break;
        }
    }
}
