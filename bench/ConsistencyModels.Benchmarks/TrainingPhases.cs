// Where a training step's time goes: the step of TrainingStep.Run taken apart into its phases (data, the loss's forwards,
// backward, the fp32 gradient gather of mixed precision, RAdam, the EMAs, the copy into the networks), each timed with
// a synchronising stop, next to the whole step, for fp32 and bf16 mixed precision. Usage:
//   dotnet run -c Release --project bench/ConsistencyModels.Benchmarks -- --suite training-phases [--threads N] [--quick] [--markdown FILE]
using System.Diagnostics;
using ConsistencyModels.Data;
using ConsistencyModels.Diffusion;
using ConsistencyModels.Nn;
using ConsistencyModels.Presets;
using ConsistencyModels.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ConsistencyModels.Benchmarks;

internal static class TrainingPhases
{
    private static readonly string[] Phases = ["data", "loss forward(s)", "backward", "gradient gather", "RAdam", "EMAs", "copy to networks"];

    public static int Run(bool quick, string? markdown)
    {
        int batch = 32, reps = quick ? 5 : 15;
        var dir = Path.Combine(Path.GetTempPath(), $"cm-phase-bench-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        var data = new TrainingBench.RandomImages(4096);
        var teacher = Path.Combine(dir, "teacher.pt");
        manual_seed(1);
        using (var t = new UNetModel(TrainingPresets.FashionMnist32(DenoiserKind.Edm))) IO.Checkpoints.TorchCheckpoint.Save(teacher, t.state_dict());
        var edmModel = TrainingPresets.FashionMnist32(DenoiserKind.Edm);
        var cases = new (string Name, TrainingOptions Options)[]
        {
            ("EDM teacher step (dropout 0.1)", TrainingBench.Base(TrainingMode.Edm, dir) with { Model = edmModel, WeightSchedule = WeightSchedule.Karras }),
            ("CT step (l2, N 2->150, dropout 0)", TrainingBench.Base(TrainingMode.ConsistencyTraining, dir) with
                { Schedule = new EmaAndScalesConfig(TargetEmaMode.Adaptive, 0.95, ScaleMode.Progressive, 2, 150, 10_000) }),
            ("ECT step (q 16, sigmoid, L2, dropout 0.1)", TrainingBench.Base(TrainingMode.EasyConsistencyTuning, dir) with
                { Model = edmModel, TeacherPath = teacher, Ect = new EctLoss(Q: 16), EctStageSteps = TrainingOptions.EctSingleStage, EmaRates = [0.9993], EmaHalfLifeKimg = 500 }),
        };
        var lines = new List<string>
        {
            $"threads {get_num_threads()}; {ConvYardstick.CpuName()}; fmnist32 at batch {batch}; median ms of {reps} steps per phase (each phase ends in a synchronising read); " +
            "whole: Trainer.TrainStep on the same trainer, interleaved",
            "",
        };
        string[] header =
        [
            "| step | precision | dropout masks | whole step | sum of phases | " + string.Join(" | ", Phases) + " |",
            "|---|---|---|---|---|" + string.Concat(Phases.Select(_ => "---|")),
        ];
        // The pieces of a dropout (train mode, p 0.1) on one ResBlock activation of the 32x32 level.
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
        {
            using var a = randn([batch, 32, 32, 32]).to(dtype);
            using var drop = nn.Dropout(0.1);
            using var hashed = new Nn.Dropout(0.1);
            drop.train();
            hashed.train();
            lines.Add($"dropout p 0.1 on [{batch}, 32, 32, 32] {dtype}: libtorch " + Harness.Run($"dropout {dtype}", () => { using var o = drop.call(a); }, 2, reps).MedianMs.ToString("F2") + " ms; " +
                      "hashed (Nn.Dropout) " + Harness.Run($"hashed dropout {dtype}", () => { using var o = hashed.call(a); }, 2, reps).MedianMs.ToString("F2") + " ms; " +
                      "bernoulli_ alone " + Harness.Run($"bernoulli {dtype}", () => { using var o = empty_like(a).bernoulli_(0.9); }, 2, reps).MedianMs.ToString("F2") + " ms; " +
                      "rand alone " + Harness.Run($"rand {dtype}", () => { using var o = rand_like(a); }, 2, reps).MedianMs.ToString("F2") + " ms");
        }
        lines.Add("");
        lines.AddRange(header);
        foreach (var (name, options) in cases)
            foreach (var (precision, hashedDropout) in new[] { (Precision.Fp32, false), (Precision.Fp32, true), (Precision.Bf16, false), (Precision.Bf16, true) })
            {
                if (!hashedDropout && options.Model.Dropout == 0) continue;
                var o = options with { Precision = precision, OutputDirectory = Path.Combine(dir, $"{options.Mode}-{precision}-{hashedDropout}"),
                                       Kernels = Nn.KernelOptions.Default with { HashedCpuDropout = hashedDropout } };
                using var trainer = new Trainer(o, data, log: _ => { });
                using var loader = new BatchLoader(data, batch, o.Seed, o.RandomFlip, trainer.Step);
                using var phaseLoader = new BatchLoader(data, batch, o.Seed + 1, o.RandomFlip, 0);
                var whole = new double[reps];
                var phase = new double[Phases.Length, reps];
                for (int w = 0; w < 2; w++) { trainer.TrainStep(loader.Next()); Profile(trainer, o, phaseLoader, null, 0); }
                for (int i = 0; i < reps; i++)
                {
                    var sw = Stopwatch.StartNew();
                    trainer.TrainStep(loader.Next());
                    whole[i] = sw.Elapsed.TotalMilliseconds;
                    Profile(trainer, o, phaseLoader, phase, i);
                }
                var medians = Enumerable.Range(0, Phases.Length).Select(p => Median(Enumerable.Range(0, reps).Select(i => phase[p, i]).ToArray())).ToArray();
                double sum = Enumerable.Range(0, reps).Select(i => Enumerable.Range(0, Phases.Length).Sum(p => phase[p, i])).ToArray() is var s ? Median(s) : 0;
                var line = $"| {name} | {precision} | {(options.Model.Dropout == 0 ? "-" : hashedDropout ? "hashed" : "libtorch")} | {Median(whole):F1} | {sum:F1} | " + string.Join(" | ", medians.Select(m => m.ToString("F1"))) + " |";
                Console.Error.WriteLine(line);
                lines.Add(line);
            }
        Directory.Delete(dir, recursive: true);
        foreach (var l in lines) Console.WriteLine(l);
        if (markdown is not null) File.WriteAllLines(markdown, lines);
        return 0;
    }

    private static double Median(double[] v) { Array.Sort(v); int n = v.Length; return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2; }

    /// <summary>One step of TrainingStep.Run (one micro-batch, one process) with a stopwatch between its phases.</summary>
    private static void Profile(Trainer trainer, TrainingOptions o, BatchLoader loader, double[,]? t, int rep)
    {
        var state = trainer.State;
        var sw = Stopwatch.StartNew();
        void Lap(int p) { if (t is not null) t[p, rep] = sw.Elapsed.TotalMilliseconds; sw.Restart(); }
        using var scope = NewDisposeScope();
        var batch = loader.Next();
        var config = state.Online.Config;
        int bs = batch.BatchSize, c = batch.Channels, s = batch.ImageSize;
        var x = tensor(batch.Images, [bs, c, s, s]);
        var y = tensor(batch.Labels);
        Lap(0);
        using var gen = new Generator(12345);
        Denoiser online = state.OnlineScalings.AsDenoiser((xi, ti, yi) => state.Online.call(xi, ti, yi), y, clipDenoised: false);
        Tensor loss;
        if (o.Mode == TrainingMode.EasyConsistencyTuning)
        {
            var ect = o.Ect with { SigmaData = config.SigmaData };
            var drawn = randn([bs, 1, 1, 1], generator: gen);
            loss = ect.Compute(x, drawn, randn([bs, c, s, s], generator: gen), online);
        }
        else if (o.Mode == TrainingMode.Edm)
        {
            var edm = new EdmLoss(WeightSchedule: o.ResolvedWeightSchedule, SigmaData: config.SigmaData);
            loss = edm.Compute(x, randn([bs, c, s, s], generator: gen), edm.Sigmas(randn([bs], generator: gen)), online);
        }
        else
        {
            var (_, scales) = EmaAndScales.At(o.Schedule, state.Step);
            var cl = new ConsistencyLoss(o.LossNorm, o.ResolvedWeightSchedule, o.Perceptual, config.SigmaMin, config.SigmaMax, config.Rho, config.SigmaData);
            var target = state.OnlineScalings.AsDenoiser((xi, ti, yi) => { using var _ = no_grad(); return state.Target!.call(xi, ti, yi); }, y, clipDenoised: false);
            var noise = randn([bs, c, s, s], generator: gen);
            loss = cl.Compute(x, noise, NoiseLevelPairs.Draw(o.IndexSampling, cl, bs, scales, gen), scales, online, target, null);
        }
        var mean = loss.mean();
        _ = mean.item<float>();
        Lap(1);
        foreach (var p in state.NetworkParameters) p.grad = null;
        mean.backward();
        _ = state.NetworkParameters[0].grad!.sum().item<float>();
        Lap(2);
        Tensor? grad = null;
        if (state.Precision != Precision.Fp32)
        {
            grad = state.MasterGradient!;
            using (no_grad())
                for (int i = 0; i < state.NetworkParameters.Count; i++) state.MasterGradientViews![i].copy_(state.NetworkParameters[i].grad!);
            _ = grad.isfinite().all().item<bool>();
        }
        Lap(3);
        if (grad is null) state.Optimizer.Step(); else state.Optimizer.Step(grad);
        Lap(4);
        var source = state.FlatParameters is { } f ? [f] : state.Parameters;
        foreach (var ema in state.Emas) Ema.Update(ema.Flat is { } e ? [e] : ema.Parameters, source, ema.Beta(state.Step, o.GlobalBatchSize));
        if (state.FlatTarget is { } ft) Ema.Update([ft], source, 0.95);
        Lap(5);
        state.CopyToNetworks();
        Lap(6);
    }
}
