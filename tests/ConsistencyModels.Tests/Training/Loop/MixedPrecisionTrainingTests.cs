// Mixed-precision training (cm/fp16_util.py's MixedPrecisionTrainer): fp32 masters, a bf16/fp16 torso, loss scaling, resume.
using ConsistencyModels.Data;
using ConsistencyModels.IO.Checkpoints;
using ConsistencyModels.Nn;
using ConsistencyModels.Training;
using Xunit;
using static ConsistencyModels.Tests.Training.Loop.TrainerTests;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Training.Loop;

[Collection(GlobalRngCollection.Name)]
public class MixedPrecisionTrainingTests
{
    private static bool Same(Tensor a, Tensor b) => a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) && a.equal(b).all().item<bool>();

    /// <summary>The online network's parameters whose type mixed precision changes: the torso's convolutions.</summary>
    private static HashSet<string> TorsoKeys(UNetModel m) =>
        [.. m.named_modules().Where(kv => kv.module is TorchSharp.Modules.Conv2d && UNetModel.IsTorsoModule(kv.name))
                             .SelectMany(kv => kv.module.named_parameters(recurse: false).Select(p => $"{kv.name}.{p.name}"))];

    [Theory]
    [InlineData(Precision.Bf16, TrainingMode.Edm)]
    [InlineData(Precision.Bf16, TrainingMode.ConsistencyTraining)]
    [InlineData(Precision.Bf16, TrainingMode.ConsistencyDistillation)]
    [InlineData(Precision.Bf16, TrainingMode.ConsistencyDistillation, true)]
    [InlineData(Precision.Fp16, TrainingMode.EasyConsistencyTuning)]
    public void TheNetworksRunInHalfPrecisionFromFp32Masters(Precision precision, TrainingMode mode, bool channelsLast = false)
    {
        using var tmp = new TempDir();
        var data = new SyntheticData(10);
        string? teacher = mode is TrainingMode.ConsistencyDistillation or TrainingMode.EasyConsistencyTuning ? Teacher(tmp) : null;
        var dtype = precision.ToScalarType();
        using var fp32 = new Trainer(Options(mode, tmp.File("fp32"), 4, teacher) with { ChannelsLast = channelsLast }, data);
        fp32.Run();
        using var mixed = new Trainer(Options(mode, tmp.File("mixed"), 4, teacher) with { Precision = precision, ChannelsLast = channelsLast }, data);
        var s = mixed.State;
        Assert.Equal(precision == Precision.Fp16 ? 20.0 : 0.0, s.LossScaleLog2);
        mixed.Run();

        var keys = s.Online.state_dict().Keys.ToList();
        var torso = TorsoKeys(s.Online);
        Assert.NotEmpty(torso);
        for (int i = 0; i < keys.Count; i++)
        {
            Assert.Equal(ScalarType.Float32, s.Parameters[i].dtype);
            var expected = torso.Contains(keys[i]) ? dtype : ScalarType.Float32;
            // The network holds the masters rounded to its types; the target likewise its own masters.
            Assert.True(Same(s.NetworkParameters[i], s.Parameters[i].to(expected)), keys[i]);
            if (s.Target is not null) Assert.True(Same(s.Target.state_dict()[keys[i]], s.TargetParameters![i].to(expected)), $"target {keys[i]}");
        }
        if (s.Teacher is not null) Assert.All(TorsoKeys(s.Teacher), k => Assert.Equal(dtype, s.Teacher.state_dict()[k].dtype));
        if (channelsLast)
            Assert.All(TorsoKeys(s.Online).Where(k => k.EndsWith(".weight") && s.Online.state_dict()[k].dim() == 4),
                       k => Assert.True(ConsistencyModels.Nn.MemoryLayout.HasChannelsLastStrides(s.Online.state_dict()[k]), k));

        // Checkpoints hold the fp32 masters; the record the precision and the loss scale (fp16: 20 + 4 steps x 0.001).
        var sd = TorchCheckpoint.LoadStateDict(TrainingCheckpoints.Model(tmp.File("mixed"), 4));
        Assert.All(keys.Select((k, i) => (k, i)), p => Assert.True(Same(sd[p.k], s.Parameters[p.i]), p.k));
        var record = TrainingCheckpoints.ReadState(tmp.File("mixed"), 4);
        Assert.Equal(precision.ToString(), record.Precision);
        // fp16: 20 + 4 steps x 0.001 (no overflow at this scale on the tiny model); bf16 unscaled.
        Assert.Equal(precision == Precision.Fp16 ? 20.004 : 0.0, record.LossScaleLog2!.Value, 9);
        Assert.EndsWith($"mixed precision {precision.ToString().ToLowerInvariant()}", record.Recipe);
        Assert.Null(TrainingCheckpoints.ReadState(tmp.File("fp32"), 4).Precision);

        // Training in effect unchanged: the same losses and weights as fp32 to half-precision rounding, but not fp32's bits.
        var l32 = TrainingLog.Read(tmp.File("fp32")).Select(r => r.Loss).ToArray();
        var lmix = TrainingLog.Read(tmp.File("mixed")).Select(r => r.Loss).ToArray();
        Assert.All(l32.Zip(lmix), p => Assert.True(Math.Abs(p.First - p.Second) <= 0.02 * Math.Abs(p.First), $"loss {p.Second} against fp32's {p.First}"));
        using var start = new Trainer(Options(mode, tmp.File("start"), 4, teacher), data);   // the weights both runs started from
        double apart = 0, travelled = 0;
        for (int i = 0; i < keys.Count; i++)
        {
            var a = fp32.State.Parameters[i];
            apart = Math.Max(apart, (a - s.Parameters[i]).abs().max().item<float>());
            travelled = Math.Max(travelled, (a - start.State.Parameters[i]).abs().max().item<float>());
        }
        Assert.True(apart > 0 && apart < 0.1 * travelled, $"mixed and fp32 weights {apart} apart after moving {travelled}");
    }

    [Theory]
    [InlineData(Precision.Bf16, TrainingMode.Edm)]
    [InlineData(Precision.Fp16, TrainingMode.ConsistencyTraining)]
    public void ResumedRunEqualsUninterruptedRun(Precision precision, TrainingMode mode)
    {
        using var tmp = new TempDir();
        var data = new SyntheticData(10);
        string straight = tmp.File("straight"), resumed = tmp.File("resumed");
        var o = (string dir) => Options(mode, dir, 4) with { Precision = precision };
        using (var a = new Trainer(o(straight), data)) a.Run();
        using (var b = new Trainer(o(resumed) with { MaxSteps = 2 }, data)) b.Run();
        using (var c = new Trainer(o(resumed) with { Resume = true }, data))
        {
            Assert.Equal(2, c.Step);
            c.Run();
        }
        var names = new List<string> { "model000004.pt", "ema_0.9_000004.pt", "ema_0.99_000004.pt", "ema_hl0.02kimg_000004.pt", "opt000004.pt" };
        if (mode == TrainingMode.ConsistencyTraining) names.Add("target_model000004.pt");
        foreach (var name in names)
            AssertSameGraph(name, TorchCheckpoint.ReadGraph(Path.Combine(straight, name)), TorchCheckpoint.ReadGraph(Path.Combine(resumed, name)));
        Assert.Equal(TrainingCheckpoints.ReadState(straight, 4).LossScaleLog2, TrainingCheckpoints.ReadState(resumed, 4).LossScaleLog2);
        Assert.Equal(TrainingLog.Read(straight).Select(r => r.Loss), TrainingLog.Read(resumed).Select(r => r.Loss));

        // Another precision is another run: refused unless asked for.
        var e = Assert.Throws<ArgumentException>(() => new Trainer(Options(mode, resumed, 4) with { Resume = true }, data));
        Assert.Contains($"`Precision` recorded {precision.ToString().ToLowerInvariant()}, requested fp32", e.Message);
    }

    [Fact]
    public void AnFp32RunContinuesInMixedPrecisionWhenAskedFromItsWeights()
    {
        using var tmp = new TempDir();
        var data = new SyntheticData(10);
        using (var a = new Trainer(Options(TrainingMode.Edm, tmp.Path, 3) with { MaxSteps = 2 }, data)) a.Run();
        var fp32 = TorchCheckpoint.LoadStateDict(TrainingCheckpoints.Model(tmp.Path, 2));
        using var b = new Trainer(Options(TrainingMode.Edm, tmp.Path, 3) with { Resume = true, ResumeWithChanges = true, Precision = Precision.Fp16 }, data);
        Assert.Equal(2, b.Step);
        Assert.Equal(LossScale.InitialLog2, b.State.LossScaleLog2);       // afresh: the record has none
        var keys = b.State.Online.state_dict().Keys.ToList();
        Assert.All(keys.Select((k, i) => (k, i)), p => Assert.True(Same(fp32[p.k], b.State.Parameters[p.i]), p.k));
        Assert.All(b.State.NetworkParameters.Zip(b.State.Parameters), p => Assert.True(Same(p.First, p.Second.to(p.First.dtype))));
        b.Run();
        Assert.Equal(nameof(Precision.Fp16), TrainingCheckpoints.ReadState(tmp.Path, 3).Precision);
    }

    [Fact]
    public void NonFiniteGradientsAtScaleOneStopTheRunWithOneLine()
    {
        using var tmp = new TempDir();
        var data = new SyntheticData(10);
        using var t = new Trainer(Options(TrainingMode.Edm, tmp.Path, 4) with { Precision = Precision.Bf16 }, data);
        using (no_grad()) t.State.Parameters[^1].fill_(float.NaN);           // the output layer's bias: every output NaN
        t.State.CopyToNetworks();
        using var loader = new BatchLoader(data, 4, 5, true, 0);
        var e = Assert.Throws<InvalidOperationException>(() => t.TrainStep(loader.Next()));
        Assert.StartsWith("step 0: the gradients are not finite at `Precision` Bf16 with loss scale 2^0", e.Message);
        Assert.Contains("smaller `LearningRate`", e.Message);
        Assert.Equal(0, t.Step);
    }

    [Fact]
    public void AnOverflowLowersTheLossScaleAndTakesTheStepAgain()
    {
        using var tmp = new TempDir();
        var data = new SyntheticData(10);
        var o = Options(TrainingMode.Edm, tmp.File("a"), 4) with { Precision = Precision.Fp16 };
        using var a = new Trainer(o, data);
        using var b = new Trainer(o with { OutputDirectory = tmp.File("b") }, data);
        using var loader = new BatchLoader(data, o.GlobalBatchSize, o.Seed, o.RandomFlip, 0);
        // Two ordinary steps first: at initialisation the zeroed output convolution passes no gradient into the torso.
        for (int k = 0; k < 2; k++)
        {
            var first = loader.Next();
            a.TrainStep(first);
            b.TrainStep(first);
        }
        var batch = loader.Next();
        // 2^40 overflows the torso's fp16 gradients: the step is computed again at 2^39, 2^38, ... until they are finite.
        a.State.LossScaleLog2 = 40;
        var lossA = a.TrainStep(batch);
        double taken = a.State.LossScaleLog2 - LossScale.GrowthLog2;
        Assert.True(taken < 40 && taken > 0 && Math.Abs(taken - Math.Round(taken)) < 1e-9, $"the step was taken at lg {taken}");
        // ... and is then the step a run at that scale takes, to the bit.
        b.State.LossScaleLog2 = Math.Round(taken);
        var lossB = b.TrainStep(batch);
        Assert.Equal(lossB, lossA);
        Assert.Equal(b.State.LossScaleLog2, a.State.LossScaleLog2);
        Assert.All(a.State.Parameters.Zip(b.State.Parameters), p => Assert.True(Same(p.First, p.Second)));
        Assert.All(a.State.Emas.Zip(b.State.Emas), e => Assert.All(e.First.Parameters.Zip(e.Second.Parameters), p => Assert.True(Same(p.First, p.Second))));
        Assert.All(a.State.NetworkParameters.Zip(b.State.NetworkParameters), p => Assert.True(Same(p.First, p.Second)));
        Assert.Equal(3, a.Step);
    }
}
