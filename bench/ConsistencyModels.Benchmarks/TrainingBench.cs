// Training-step benchmarks on the shipped Fashion-MNIST architecture (TrainingPresets.FashionMnist32): one full
// optimisation step of EDM, CT (l2, released schedule), iCT (pseudo-Huber), CD (l2, Heun teacher step) and ECT, as
// Trainer.TrainStep runs it (data from the prefetching loader, RAdam, EMAs, target update). Each case is reported against
// the same run's large 3x3 convolution (Yardstick.cs) in its precision and layout: no-grad forwards against the forward
// rate, forward+backward and whole steps against the forward+backward rate (input and weight gradients, 3x the forward
// FLOPs; whole steps also run no-grad forwards, whose bound is the forward rate, so their % over-states slightly where
// the forward+backward rate is the lower of the two). Each step runs interleaved in fp32 and bf16 mixed precision
// (TrainingOptions.Precision), and fp32 with libtorch's serial dropout masks where the model has dropout. Usage:
//   dotnet run -c Release --project bench/ConsistencyModels.Benchmarks -- --suite training [--threads N] [--quick] [--markdown FILE]
using ConsistencyModels.IO.Checkpoints;
using ConsistencyModels.Nn;
using ConsistencyModels.Presets;
using ConsistencyModels.Training;
using ConsistencyModels.Data;
using static TorchSharp.torch;

namespace ConsistencyModels.Benchmarks;

internal static class TrainingBench
{
    /// <summary>Random 32x32 one-channel images (no disk I/O in the measurement).</summary>
    internal sealed class RandomImages(int count) : ITrainingDataset
    {
        public int Count => count;
        public int Channels => 1;
        public int ImageSize => 32;
        public int? NumClasses => 10;
        public int Read(int index, Span<float> dest)
        {
            var rng = new Random(index);
            for (int i = 0; i < dest.Length; i++) dest[i] = (float)(rng.NextDouble() * 2 - 1);
            return index % 10;
        }
        public string Describe(int index) => $"random #{index}";
    }

    public static int Run(bool quick, string? markdown)
    {
        int batch = 32, reps = quick ? 5 : 15;
        var dir = Path.Combine(Path.GetTempPath(), $"cm-train-bench-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        var data = new RandomImages(4096);
        var cm = TrainingPresets.FashionMnist32(DenoiserKind.Consistency);
        double fwd = FlopCounter.UNetForward(cm, 1);               // per image; backward ~ 2x forward
        var teacher = Path.Combine(dir, "teacher.pt");
        manual_seed(1);
        using (var t = new UNetModel(TrainingPresets.FashionMnist32(DenoiserKind.Edm))) TorchCheckpoint.Save(teacher, t.state_dict());

        var progressive = new EmaAndScalesConfig(TargetEmaMode.Adaptive, 0.95, ScaleMode.Progressive, 2, 150, 10_000);
        var fixed40 = new EmaAndScalesConfig(TargetEmaMode.Fixed, 0.95, ScaleMode.Fixed, 40, 40, 10_000);
        var ict = new EmaAndScalesConfig(TargetEmaMode.Fixed, 0.0, ScaleMode.ImprovedCtDoubling, 10, 1280, 10_000);
        var cases = new (string Name, TrainingOptions Options, double Forwards)[]
        {
            ("EDM teacher step", Base(TrainingMode.Edm, dir) with { WeightSchedule = WeightSchedule.Karras }, 3),
            ("CT step (l2, N 2->150)", Base(TrainingMode.ConsistencyTraining, dir) with { Schedule = progressive }, 4),
            ("iCT step (pseudo-Huber, lognormal pairs)", Base(TrainingMode.ConsistencyTraining, dir) with
                { Schedule = ict, LossNorm = LossNorm.PseudoHuber, WeightSchedule = WeightSchedule.ImprovedCt, IndexSampling = IndexSampling.LogNormal }, 4),
            ("CD step (l2, N 40, Heun teacher)", Base(TrainingMode.ConsistencyDistillation, dir) with { Schedule = fixed40, TeacherPath = teacher }, 6),
            ("ECT step (q 2, sigmoid, L2)", Base(TrainingMode.EasyConsistencyTuning, dir) with { TeacherPath = teacher, Ect = new EctLoss(), EctStageSteps = 1000 }, 4),
        };
        var results = new List<Measurement>();
        var yardstick = new ConvYardstick();
        var against = new Dictionary<Measurement, (ScalarType Dtype, bool Cl, Pass Pass)>();
        int yardReps = quick ? 3 : 5;
        foreach (var (dtype, cl) in new[] { (ScalarType.Float32, false), (ScalarType.Float32, true), (ScalarType.BFloat16, false), (ScalarType.BFloat16, true) })
            foreach (var pass in new[] { Pass.Forward, Pass.ForwardBackward })
                yardstick.Measure(results, dtype, cl, pass, 1, yardReps);
        void Against(ScalarType dtype, bool cl, Pass pass) => against[results[^1]] = (dtype, cl, pass);
        // The pieces: a no-grad forward (target / teacher evaluations) and forward+backward (online network).
        using (var net = new UNetModel(cm))
        using (var x = randn(batch, 1, 32, 32))
        using (var t = full(batch, 1f))
        using (var y = randint(0, 10, [batch]))
        {
            foreach (bool eval in new[] { false, true })
            {
                if (eval) net.eval(); else net.train();
                results.Add(Harness.Run($"UNet forward no_grad ({(eval ? "eval" : "train")} mode), batch {batch}", () =>
                {
                    using var _ = no_grad();
                    using var o = net.call(x, t, y);
                }, 2, reps, fwd * batch, batch, "img"));
                Against(ScalarType.Float32, false, Pass.Forward);
            }
            net.train();
            results.Add(Harness.Run($"UNet forward+backward, batch {batch}", () =>
            {
                using var scope = NewDisposeScope();
                net.call(x, t, y).square().mean().backward();
                foreach (var p in net.parameters()) p.grad?.zero_();
            }, 2, reps, 3 * fwd * batch, batch, "img"));
            Against(ScalarType.Float32, false, Pass.ForwardBackward);
        }
        // The same pieces with the torso's convolutions in bf16 and channels-last (the candidates for faster training).
        foreach (var (label, dtype, cl) in new[] { ("bf16", ScalarType.BFloat16, false), ("fp32 channels-last", ScalarType.Float32, true), ("bf16 channels-last", ScalarType.BFloat16, true) })
        {
            using var net = new UNetModel(cm);
            net.ConvertTorso(dtype, channelsLast: cl);
            using var x = randn(batch, 1, 32, 32);
            using var t = full(batch, 1f);
            using var y = randint(0, 10, [batch]);
            net.eval();
            results.Add(Harness.Run($"UNet forward no_grad {label}, batch {batch}", () =>
            {
                using var _ = no_grad();
                using var o = net.call(x, t, y);
            }, 2, reps, fwd * batch, batch, "img"));
            Against(dtype, cl, Pass.Forward);
            net.train();
            results.Add(Harness.Run($"UNet forward+backward {label}, batch {batch}", () =>
            {
                using var scope = NewDisposeScope();
                net.call(x, t, y).to(ScalarType.Float32).square().mean().backward();
                foreach (var p in net.parameters()) p.grad?.zero_();
            }, 2, reps, 3 * fwd * batch, batch, "img"));
            Against(dtype, cl, Pass.ForwardBackward);
        }
        if (Environment.GetEnvironmentVariable("CM_BENCH_PIECES_ONLY") == "1") { yardstick.MeasureAgain(results, 1, yardReps); return Report(results, against, yardstick, cm, markdown); }
        // Each step three times, interleaved: fp32 with libtorch's dropout masks (the issue-17 baseline), fp32 as now
        // (hashed CPU dropout masks, Nn.Dropout) and bf16 mixed precision (bf16 torso, fp32 masters, hashed masks).
        // Session 10 compared per-tensor updates with flat buffers the same way (docs/bench/training-cpu-session10.md).
        var ratios = new List<string>();
        var libtorchDropout = KernelOptions.Default with { HashedCpuDropout = false };
        foreach (var (name, options, forwards) in cases)
        {
            var model = options.Mode is TrainingMode.Edm or TrainingMode.EasyConsistencyTuning ? TrainingPresets.FashionMnist32(DenoiserKind.Edm) : cm;
            var variants = new (string Label, TrainingOptions Options)[]
            {
                ("fp32, libtorch dropout masks", options with { Model = model, Kernels = libtorchDropout, OutputDirectory = options.OutputDirectory + "-a" }),
                ("fp32", options with { Model = model, OutputDirectory = options.OutputDirectory + "-b" }),
                ("bf16 mixed precision", options with { Model = model, Precision = Precision.Bf16, OutputDirectory = options.OutputDirectory + "-c" }),
            };
            if (model.Dropout == 0) variants = variants[1..];                // no dropout: the masks do not matter
            var trainers = variants.Select(v => new Trainer(v.Options, data)).ToArray();
            var loaders = trainers.Select(t => new BatchLoader(data, batch, t.Options.Seed, t.Options.RandomFlip, t.Step)).ToArray();
            try
            {
                var m = Harness.RunInterleaved([.. variants.Select((v, k) => ($"{name}, batch {batch}, {v.Label}", (Action)(() => trainers[k].TrainStep(loaders[k].Next()))))],
                                               2, reps, forwards * fwd * batch, batch, "img");
                for (int k = 0; k < m.Length; k++)
                {
                    results.Add(m[k]);
                    Against(variants[k].Options.Precision == Precision.Bf16 ? ScalarType.BFloat16 : ScalarType.Float32, false, Pass.ForwardBackward);
                }
                ratios.Add($"{name}: bf16 {m[0].MedianMs / m[^1].MedianMs:F2}x" + (m.Length == 3 ? $", fp32 with hashed masks {m[0].MedianMs / m[1].MedianMs:F2}x" : ""));
            }
            finally
            {
                foreach (var l in loaders) l.Dispose();
                foreach (var t in trainers) t.Dispose();
            }
        }
        string[] footnotes = ["against fp32 with libtorch's dropout masks (images/s, same run, interleaved; steps without dropout: against fp32): " + string.Join("; ", ratios)];
        Directory.Delete(dir, recursive: true);
        yardstick.MeasureAgain(results, 1, yardReps);
        return Report(results, against, yardstick, cm, markdown, footnotes);
    }

    private static int Report(List<Measurement> results, Dictionary<Measurement, (ScalarType Dtype, bool Cl, Pass Pass)> against, ConvYardstick yardstick,
                              ModelConfig cm, string? markdown, IReadOnlyList<string>? footnotes = null)
    {
        var lines = new List<string>
        {
            $"threads {get_num_threads()}; model fmnist32 ({FlopCounter.UNetForward(cm, 1) / 1e6:F0} MFLOP per image forward); " +
            "FLOPs counted as forward-equivalents per image: EDM 3 (forward+backward), CT 4 (+ target), CD 6 (+ target + 2 teacher)",
            $"{ConvYardstick.CpuName()}; yardstick {ConvYardstick.Shape} (GFLOP/s): {yardstick.Summary()}",
            "% of conv3x3: no-grad forwards against the forward yardstick, forward+backward and training steps against the forward+backward one",
            "",
            "| case | median ms | min | max | n | GFLOP/s | % of conv3x3 (same precision, layout, pass) | throughput | peak RSS MB |",
            "|---|---|---|---|---|---|---|---|---|",
        };
        foreach (var m in results)
            lines.Add($"| {m.Name} | {m.MedianMs:F1} | {m.MinMs:F1} | {m.MaxMs:F1} | {m.Repetitions} | {m.GflopPerSecond:F1} | " +
                      $"{(against.TryGetValue(m, out var y) ? yardstick.Percent(m.GflopPerSecond, y.Dtype, y.Cl, y.Pass) : "-")} | " +
                      $"{(m.ItemsPerSecond is double ips ? $"{ips:F1} img/s" : "-")} | {m.PeakRssMb} |");
        if (footnotes is { Count: > 0 }) { lines.Add(""); lines.AddRange(footnotes); }
        foreach (var l in lines) Console.WriteLine(l);
        if (markdown is not null) File.WriteAllLines(markdown, lines);
        return 0;
    }

    internal static TrainingOptions Base(TrainingMode mode, string dir) => new()
    {
        Mode = mode, Model = TrainingPresets.FashionMnist32(DenoiserKind.Consistency), OutputDirectory = Path.Combine(dir, mode.ToString()),
        GlobalBatchSize = 32, LearningRate = 1e-4, EmaRates = [0.999], LossNorm = LossNorm.L2, Seed = 3,
        Schedule = new EmaAndScalesConfig(TargetEmaMode.Fixed, 0.95, ScaleMode.Fixed, 40, 40, 10_000),
    };
}
