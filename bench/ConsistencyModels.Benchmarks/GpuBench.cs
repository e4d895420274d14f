// CUDA benchmark and CPU-vs-CUDA parity (issue 3, part 6): the cases of the official reference figures on one card.
// Run on a machine with PyTorch's libtorch (see docs/performance.md, "GPU"): ConsistencyModels.Benchmarks --device cuda
using System.Diagnostics;
using ConsistencyModels.Nn;
using ConsistencyModels.Pipelines;
using ConsistencyModels.Presets;
using ConsistencyModels.Runtime;
using ConsistencyModels.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace ConsistencyModels.Benchmarks;

internal static class GpuBench
{
    private sealed record Row(string Case, double MedianMs, double MinMs, double MaxMs, int N, double ImagesPerSecond, string Note = "");

    // --dry: the same code path on the CPU with narrow models and tiny batches, to check the script before a GPU lease.
    private static bool _dry;
    // Layout and GroupNorm path of the cases after "imagenet" (the fastest fp16 one when it ran; else the defaults).
    private static bool _channelsLast = true;
    private static StatisticsGroupNorm _statisticsGroupNorm = KernelOptions.Default.StatisticsGroupNorm;
    // Same-run yardsticks (issue 17): a large 3x3 convolution's TFLOP/s per precision, layout and pass (fp32: TF32, as
    // in the throughput rows). The rows' FLOP rates are given as a % of the one in their precision and layout.
    private static readonly Dictionary<(Precision, bool, Pass), double> _convTflops = [];

    private sealed record Setting(string Name, Precision P, bool Cl, StatisticsGroupNorm Gn);

    // The precision x layout x GroupNorm combinations that the throughput and parity cases both run (fp32: TF32
    // convolutions in the throughput rows, TF32 off for parity).
    private static readonly Setting[] Settings =
    [
        new("fp32 NCHW, libtorch GroupNorm", Precision.Fp32, false, StatisticsGroupNorm.Never),
        new("fp32 channels-last, statistics GroupNorm", Precision.Fp32, true, StatisticsGroupNorm.OffCpu),
        new("fp16 NCHW, libtorch GroupNorm", Precision.Fp16, false, StatisticsGroupNorm.Never),
        new("fp16 NCHW, statistics GroupNorm", Precision.Fp16, false, StatisticsGroupNorm.OffCpu),
        new("fp16 channels-last, libtorch GroupNorm", Precision.Fp16, true, StatisticsGroupNorm.Never),
        new("fp16 channels-last, statistics GroupNorm", Precision.Fp16, true, StatisticsGroupNorm.OffCpu),
        new("bf16 NCHW, libtorch GroupNorm", Precision.Bf16, false, StatisticsGroupNorm.Never),
        new("bf16 channels-last, statistics GroupNorm", Precision.Bf16, true, StatisticsGroupNorm.OffCpu),
    ];

    // A --dry run is on the CPU, where OffCpu never takes the statistics path: there the rows use it everywhere.
    private static StatisticsGroupNorm Gn(StatisticsGroupNorm wanted) => _dry && wanted == StatisticsGroupNorm.OffCpu ? StatisticsGroupNorm.Always : wanted;
    private static KernelOptions Kernels(StatisticsGroupNorm gn) => new(StatisticsGroupNorm: Gn(gn));
    private static KernelOptions BestKernels => Kernels(_statisticsGroupNorm);
    private static int B(int batch) => _dry ? Math.Max(1, batch / 128) : batch;

    public static int Run(string[] cases, bool quick, string? markdown, bool dry = false)
    {
        _dry = dry;
        if (!dry && !cuda.is_available()) { Console.Error.WriteLine("CUDA is not available to this libtorch"); return 3; }
        var dev = dry ? CPU : CUDA;
        var lines = new List<string>();
        void Say(string s) { Console.WriteLine(s); lines.Add(s); Flush(); }
        void Flush() { if (markdown is not null) File.WriteAllLines(markdown, lines); }
        bool Want(string c) => cases.Length == 0 || cases.Contains(c);
        int reps = dry ? 1 : quick ? 3 : 5;

        Say(dry ? "# dry run on the CPU" : $"# GPU benchmark ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC), cuDNN available: {cuda.is_cudnn_available()}, devices: {cuda.device_count()}");
        var rows = new List<Row>();

        if (Want("yardstick"))
        {
            foreach (var dt in new[] { ScalarType.BFloat16, ScalarType.Float16, ScalarType.Float32 })
            {
                int n = dry ? 256 : 8192;
                using var a = randn(n, n, dtype: dt, device: dev);
                using var b = randn(n, n, dtype: dt, device: dev);
                var m = Time(() => { using var c = a.matmul(b); }, 2, 10);
                Say($"- matmul {n}^3 {dt}: {2.0 * n * n * n / (m.Median / 1000) / 1e12:F0} TFLOP/s (median of 10; information, not a yardstick)");
            }
            ConvYardsticks(dev, Say);
            using (var src = randn(dry ? 1 << 20 : 256L * 1024 * 1024, device: dev))
            using (var dst = empty_like(src))
            {
                var m = Time(() => dst.copy_(src), 2, 10);
                Say($"- device-to-device copy 1 GiB: {2.0 * src.numel() * 4 / (m.Median / 1000) / 1e12:F2} TB/s (read + write)");
            }
        }

        if (Want("parity")) Parity(dev, Say);

        var config = Narrow(CheckpointPresets.ImageNet64(DenoiserKind.Consistency));
        double flops = FlopCounter.UNetForward(config, 1);
        if (Want("imagenet"))
        {
            var fp16Forward = new Dictionary<(bool, StatisticsGroupNorm), double>();
            foreach (var v in Settings)
            {
                using var p = new ConsistencyPipeline(RandomModel(config, Kernels(v.Gn)), dev, v.P, v.Cl);
                var req = new GenerationRequest { NumSamples = B(256), BatchSize = B(256), ClassLabels = [1], Generator = GeneratorKind.Dummy };
                var forward = TimeForward(p, B(256), reps);
                if (v.P == Precision.Fp16) fp16Forward[(v.Cl, v.Gn)] = forward.Median;
                double tflops = flops * B(256) / (forward.Median / 1000) / 1e12;
                rows.Add(new($"ImageNet-64 UNet forward b256, {v.Name}", forward.Median, forward.Min, forward.Max, reps, B(256) * 1000 / forward.Median,
                             $"{tflops:F0} TFLOP/s{OfConv(tflops, v.P, v.Cl, Pass.Forward)}"));
                var one = Time(() => p.Generate(req), 1, reps);
                rows.Add(new($"ImageNet-64 one-step b256, {v.Name}", one.Median, one.Min, one.Max, reps, B(256) * 1000 / one.Median));
                Say($"- {rows[^2].Case}: {rows[^2].MedianMs:F1} ms ({rows[^2].ImagesPerSecond:F0} img/s, {rows[^2].Note}); one-step sampling {rows[^1].ImagesPerSecond:F0} img/s");
            }
            // The remaining cases run on the fastest fp16 setting.
            if (fp16Forward.Count > 0)
            {
                var best = fp16Forward.MinBy(kv => kv.Value).Key;
                (_channelsLast, _statisticsGroupNorm) = best;
                Say($"- fastest fp16 setting: channels-last {best.Item1}, statistics GroupNorm {best.Item2}; used below");
            }
        }
        if (Want("blocks")) Blocks(config, dev, Say);
        if (Want("multistep"))
        {
            foreach (var prec in new[] { Precision.Fp16 })
            {
                using var p = new ConsistencyPipeline(RandomModel(config, BestKernels), dev, prec, _channelsLast);
                var two = new GenerationRequest
                {
                    NumSamples = B(256), BatchSize = B(256), ClassLabels = [1], Generator = GeneratorKind.Dummy,
                    Sampling = new SamplingOptions { Sampler = SamplerKind.Multistep, Steps = 40, Ts = [0, 22, 39] },
                };
                var m = Time(() => p.Generate(two), 1, reps);
                rows.Add(new($"ImageNet-64 two-step b256, {prec} {Layout()}", m.Median, m.Min, m.Max, reps, B(256) * 1000 / m.Median));
                Say($"- {rows[^1].Case}: {rows[^1].ImagesPerSecond:F0} img/s");
            }
        }
        if (Want("heun"))
        {
            using var p = new ConsistencyPipeline(RandomModel(Narrow(CheckpointPresets.ImageNet64(DenoiserKind.Edm)), BestKernels), dev, Precision.Fp16, _channelsLast);
            var heun = new GenerationRequest
            {
                NumSamples = B(64), BatchSize = B(64), ClassLabels = [1], Generator = GeneratorKind.Dummy,
                Sampling = new SamplingOptions { Sampler = SamplerKind.Heun, Steps = dry ? 2 : 40 },
            };
            var m = Time(() => p.Generate(heun), 1, quick ? 1 : 3);
            rows.Add(new($"ImageNet-64 EDM Heun 40 steps (79 NFE) b64, fp16 {Layout()}", m.Median, m.Min, m.Max, quick ? 1 : 3, B(64) * 1000 / m.Median));
            Say($"- {rows[^1].Case}: {rows[^1].ImagesPerSecond:F1} img/s");
        }
        if (Want("lsun"))
        {
            var lsun = Narrow(CheckpointPresets.Lsun256(DenoiserKind.Consistency));
            using var p = new ConsistencyPipeline(RandomModel(lsun, BestKernels), dev, Precision.Fp16, _channelsLast);
            var req = new GenerationRequest { NumSamples = B(32), BatchSize = B(32), Generator = GeneratorKind.Dummy };
            var m = Time(() => p.Generate(req), 1, reps);
            rows.Add(new($"LSUN-256 one-step b32, fp16 {Layout()}", m.Median, m.Min, m.Max, reps, B(32) * 1000 / m.Median));
            Say($"- {rows[^1].Case}: {rows[^1].ImagesPerSecond:F0} img/s");
        }
        if (Want("train"))
        {
            foreach (var cl in new[] { false, true })
            {
                using var model = RandomModel(config, KernelOptions.Default);
                model.to(dev).train();
                if (cl) model.ConvertTorso(ScalarType.Float32, channelsLast: true);   // as TrainingOptions.ChannelsLast
                using var x = randn(B(64), 3, 64, 64, device: dev);
                using var t = full(B(64), 100f, device: dev);
                using var y = randint(0, 1000, [B(64)], device: dev);
                var m = Time(() =>
                {
                    using var scope = NewDisposeScope();
                    model.call(x, t, y).square().mean().backward();
                    foreach (var prm in model.parameters()) prm.grad?.zero_();
                }, 1, reps);
                double tflops = 3 * flops * B(64) / (m.Median / 1000) / 1e12;
                rows.Add(new($"ImageNet-64 UNet forward+backward b64, fp32 (TF32 convs), {(cl ? "channels-last, statistics GroupNorm" : "NCHW, libtorch GroupNorm")}",
                             m.Median, m.Min, m.Max, reps, B(64) * 1000 / m.Median, $"{tflops:F0} TFLOP/s{OfConv(tflops, Precision.Fp32, cl, Pass.ForwardBackward)}"));
                Say($"- {rows[^1].Case}: {rows[^1].MedianMs:F0} ms");
            }
        }
        if (Want("defaults"))
        {
            // The library's defaults (layout and GroupNorm path chosen by ConsistencyPipeline), fp16 one-step.
            using var p = new ConsistencyPipeline(RandomModel(config, KernelOptions.Default), dev, Precision.Fp16);
            var req = new GenerationRequest { NumSamples = B(256), BatchSize = B(256), ClassLabels = [1], Generator = GeneratorKind.Dummy };
            var m = Time(() => p.Generate(req), 1, reps);
            rows.Add(new($"ImageNet-64 one-step b256, fp16, library defaults (channels-last {p.Model.ChannelsLast})", m.Median, m.Min, m.Max, reps, B(256) * 1000 / m.Median));
            Say($"- {rows[^1].Case}: {rows[^1].ImagesPerSecond:F0} img/s");
        }

        Say("");
        Say("| case | median ms | min | max | n | images/s | note |");
        Say("|---|---|---|---|---|---|---|");
        foreach (var r in rows) Say($"| {r.Case} | {r.MedianMs:F1} | {r.MinMs:F1} | {r.MaxMs:F1} | {r.N} | {r.ImagesPerSecond:F1} | {r.Note} |");
        return 0;
    }

    // Conv3x3 384->384 at 32x32 (the ImageNet-64 UNet's 32x32 level), batch 256: forward in every precision and layout
    // the throughput rows use, and forward+backward (input and weight gradients, 3x the FLOPs) in fp32 for the "train" rows.
    private static void ConvYardsticks(Device dev, Action<string> say)
    {
        int batch = B(256), ch = _dry ? 64 : 384, size = 32;
        double flops = 2.0 * batch * ch * ch * 9 * size * size;
        var parts = new List<string>();
        foreach (var p in new[] { Precision.Fp32, Precision.Fp16, Precision.Bf16 })
            foreach (var cl in new[] { false, true })
                foreach (var pass in new[] { Pass.Forward, Pass.ForwardBackward })
                {
                    if (pass == Pass.ForwardBackward && p != Precision.Fp32) continue;
                    using var scope = NewDisposeScope();
                    var dt = p.ToScalarType();
                    Tensor Make(Tensor t) { var d = t.to(dt).to(dev); return cl ? MemoryLayout.ToChannelsLast(d) : d; }
                    var x = Make(randn(batch, ch, size, size));
                    var w = Make(randn(ch, ch, 3, 3) * 0.02);
                    var b = zeros(ch, dtype: dt, device: dev);
                    var g = Make(randn(batch, ch, size, size));
                    (double Median, double Min, double Max) m;
                    if (pass == Pass.Forward)
                        m = Time(() => { using var _ = inference_mode(); using var o = nn.functional.conv2d(x, w, b, padding: [1, 1]); }, 2, 10);
                    else
                    {
                        x.requires_grad_(true); w.requires_grad_(true); b.requires_grad_(true);
                        m = Time(() =>
                        {
                            using var inner = NewDisposeScope();
                            nn.functional.conv2d(x, w, b, padding: [1, 1]).backward([g]);
                            x.grad?.zero_(); w.grad?.zero_(); b.grad?.zero_();
                        }, 2, 10);
                    }
                    double tflops = (pass == Pass.Forward ? 1 : 3) * flops / (m.Median / 1000) / 1e12;
                    _convTflops[(p, cl, pass)] = tflops;
                    parts.Add($"{p} {(cl ? "channels-last" : "NCHW")}{(pass == Pass.Forward ? "" : " forward+backward")} {tflops:F0}");
                }
        say($"- yardstick conv3x3 {ch}->{ch}, {size}x{size}, batch {batch} (TFLOP/s, median of 10; fp32 = TF32): " + string.Join(", ", parts));
    }

    private static string OfConv(double tflops, Precision p, bool cl, Pass pass) =>
        _convTflops.TryGetValue((p, cl, pass), out var y) ? $" = {tflops / y * 100:F0}% of conv3x3 ({p}, {(cl ? "channels-last" : "NCHW")})" : "";

    // Where the forward's time goes: wall time per top-level block (device synchronised at each block boundary), and
    // single ops on the shapes of the 64x64 level in both layouts. bench/gpu/profile_official.py prints the same for
    // the official code.
    private static void Blocks(ModelConfig config, Device dev, Action<string> say)
    {
        int batch = B(256);
        using (var p = new ConsistencyPipeline(RandomModel(config, BestKernels), dev, Precision.Fp16, _channelsLast))
        {
            using var x = randn(batch, 3, 64, 64, device: dev);
            using var t = full(batch, 100f, device: dev);
            using var y = randint(0, 1000, [batch], device: dev);
            var totals = new Dictionary<string, List<double>>();
            for (int rep = 0; rep < 4; rep++)
            {
                using var _ = inference_mode();
                Sync();
                var sw = Stopwatch.StartNew();
                double last = 0;
                using var o = p.Model.Forward(x, t, y, (name, _) =>
                {
                    Sync();
                    double now = sw.Elapsed.TotalMilliseconds;
                    if (rep > 0) (totals.TryGetValue(name, out var l) ? l : totals[name] = []).Add(now - last);
                    last = now;
                });
            }
            say($"- blocks, fp16 {Layout()} (ms, median of 3): " +
                string.Join(", ", totals.Select(kv => $"{kv.Key} {kv.Value.Order().ElementAt(1):F1}")) +
                $"; sum {totals.Values.Sum(l => l.Order().ElementAt(1)):F1}");
        }
        using var a = randn(batch, 192, 64, 64, dtype: ScalarType.Float16, device: dev);
        using var aCl = MemoryLayout.ToChannelsLast(a);
        using var w32 = ones(192, device: dev);
        using var b32 = zeros(192, device: dev);
        using var w16 = w32.to(ScalarType.Float16);
        using var b16 = b32.to(ScalarType.Float16);
        using var scale = zeros(batch, 192, device: dev);
        using var convW = randn(192, 192, 3, 3, dtype: ScalarType.Float16, device: dev) * 0.01;
        using var convWCl = MemoryLayout.ToChannelsLast(convW);
        using var convB = zeros(192, dtype: ScalarType.Float16, device: dev);
        using var qkv = randn([batch, 1024, 3, 6, 64], dtype: ScalarType.Float16, device: dev);
        var ops = new (string Name, Action Op)[]
        {
            ("group_norm fp32 round trip", () => { using var f = a.to(ScalarType.Float32); using var g = nn.functional.group_norm(f, 32, w32, b32, 1e-5); using var h = g.to(ScalarType.Float16); }),
            ("group_norm fp16", () => { using var g = nn.functional.group_norm(a, 32, w16, b16, 1e-5); }),
            ("group_norm fp16 channels-last", () => { using var g = nn.functional.group_norm(aCl, 32, w16, b16, 1e-5); }),
            ("statistics GN", () => { using var g = GroupNorm32.FromStatistics(a, 32, 1e-5, w32, b32); }),
            ("statistics GN channels-last", () => { using var g = GroupNorm32.FromStatistics(aCl, 32, 1e-5, w32, b32); }),
            ("statistics GN + scale-shift channels-last", () => { using var g = GroupNorm32.FromStatistics(aCl, 32, 1e-5, w32, b32, scale, scale); }),
            ("silu", () => { using var g = nn.functional.silu(a); }),
            ("add", () => { using var g = a + a; }),
            ("conv3x3 192->192", () => { using var g = nn.functional.conv2d(a, convW, convB, padding: [1, 1]); }),
            ("conv3x3 192->192 channels-last", () => { using var g = nn.functional.conv2d(aCl, convWCl, convB, padding: [1, 1]); }),
            ("sdpa 6 heads x 1024 tokens", () => { using var o = nn.functional.scaled_dot_product_attention(qkv.select(2, 0).transpose(1, 2), qkv.select(2, 1).transpose(1, 2), qkv.select(2, 2).transpose(1, 2)); }),
        };
        say("- ops on [" + batch + ", 192, 64, 64] fp16 (ms, median of 10): " + string.Join(", ", ops.Select(op => $"{op.Name} {Time(op.Op, 2, 10).Median:F2}")));
        // The attention block of the 32x32 level (384 channels, 6 heads), in both layouts.
        var parts = new List<string>();
        foreach (var cl in new[] { false, true })
        {
            var kernels = new KernelOptions(StatisticsGroupNorm: cl ? StatisticsGroupNorm.ChannelsLastOffCpu : StatisticsGroupNorm.Never);
            using var block = new AttentionBlock(384, numHeadChannels: 64, kernels: kernels);
            block.to(ScalarType.Float16).to(dev).eval();
            if (cl) foreach (var (_, prm) in block.named_parameters()) if (prm.dim() == 4) using (no_grad()) prm.set_(MemoryLayout.ToChannelsLast(prm));
            using var xa = randn([batch, 384, 32, 32], dtype: ScalarType.Float16, device: dev);
            using var xin = cl ? MemoryLayout.ToChannelsLast(xa) : xa.alias();
            parts.Add($"{(cl ? "channels-last" : "NCHW")} {Time(() => { using var _ = inference_mode(); using var o = block.call(xin); }, 2, 10).Median:F2}");
        }
        say("- attention block 384 ch, 32x32, fp16 (ms, median of 10): " + string.Join(", ", parts));
    }

    // Same-process CPU (fp32, the fixture-checked path) vs CUDA: UNet outputs and final images, TF32 off for the fp32 checks.
    private static void Parity(Device dev, Action<string> say)
    {
        bool tf32 = _dry || backends.cudnn.allow_tf32;
        if (!_dry) backends.cudnn.allow_tf32 = false;
        var small = CheckpointPresets.ImageNet64(DenoiserKind.Consistency) with { NumChannels = 64, NumHeadChannels = 32 };
        using (var cpuModel = RandomModel(small, KernelOptions.Default))
        using (var gpuModel = RandomModel(small, KernelOptions.Default))
        {
            gpuModel.to(dev);
            using var _ = inference_mode();
            using var x = randn(4, 3, 64, 64);
            using var t = tensor(new float[] { -500f, 0f, 300f, 1000f });
            using var y = tensor(new long[] { 0, 5, 500, 999 });
            using var refOut = cpuModel.call(x, t, y);
            using var gpuOut = gpuModel.call(x.to(dev), t.to(dev), y.to(dev)).cpu();
            double rel = (gpuOut - refOut).norm().item<float>() / refOut.norm().item<float>();
            double maxAbs = (gpuOut - refOut).abs().max().item<float>();
            say($"- parity: UNet fp32 (64 ch) CUDA vs CPU: relative L2 {rel:E2}, max |diff| {maxAbs:E2}");
        }
        var sampling = new (string Name, SamplingOptions Options, DenoiserKind Kind)[]
        {
            ("one-step", new SamplingOptions(), DenoiserKind.Consistency),
            ("multistep ts 0,22,39", new SamplingOptions { Sampler = SamplerKind.Multistep, Steps = 40, Ts = [0, 22, 39] }, DenoiserKind.Consistency),
            ("heun 18 steps", new SamplingOptions { Sampler = SamplerKind.Heun, Steps = 18 }, DenoiserKind.Edm),
        };
        foreach (var (name, options, kind) in sampling)
        {
            var cfg = small with { Denoiser = kind };
            var req = new GenerationRequest { NumSamples = 8, BatchSize = 8, ClassLabels = [1, 2, 3, 4, 5, 6, 7, 8], Sampling = options, Seed = 7 };
            using var cpuP = new ConsistencyPipeline(RandomModel(cfg, KernelOptions.Default), CPU, Precision.Fp32, false);
            var cpuImages = cpuP.Generate(req).Images;
            foreach (var (label, prec, cl, gn) in Settings)
            {
                using var gpuP = new ConsistencyPipeline(RandomModel(cfg, Kernels(gn)), dev, prec, cl);
                var (max, mean) = Diff(cpuImages, gpuP.Generate(req).Images);
                say($"- parity: {name}, CUDA {label} vs CPU fp32, 8 images: max |uint8 diff| {max}, mean {mean:F4}");
            }
        }
        if (!_dry) backends.cudnn.allow_tf32 = tf32;
    }

    private static string Layout() => (_channelsLast ? "channels-last" : "NCHW") + $", GroupNorm {BestKernels.StatisticsGroupNorm}";

    private static ModelConfig Narrow(ModelConfig c) => _dry ? c with { NumChannels = 32, NumHeadChannels = 16 } : c;

    private static void Sync() { if (!_dry) cuda.synchronize(); }

    private static (int Max, double Mean) Diff(byte[] a, byte[] b)
    {
        int max = 0; long sum = 0;
        for (int i = 0; i < a.Length; i++) { int d = Math.Abs(a[i] - b[i]); max = Math.Max(max, d); sum += d; }
        return (max, (double)sum / a.Length);
    }

    // Seeded random weights on the CPU (same values for the CPU and CUDA copies), no zero layer.
    private static UNetModel RandomModel(ModelConfig config, KernelOptions kernels)
    {
        manual_seed(1234);
        var m = new UNetModel(config, kernels: kernels);
        using (no_grad())
            foreach (var p in m.parameters())
                if (p.dim() == 1 || p.abs().max().item<float>() == 0) p.normal_(0, 0.02);
        return m;
    }

    private static (double Median, double Min, double Max) TimeForward(ConsistencyPipeline p, int batch, int reps)
    {
        using var x = randn(batch, 3, 64, 64, device: p.Device);
        using var t = full(batch, 100f, device: p.Device);
        using var y = randint(0, 1000, [batch], device: p.Device);
        return Time(() => { using var _ = inference_mode(); using var o = p.Model.call(x, t, y); }, 2, reps);
    }

    private static (double Median, double Min, double Max) Time(Action action, int warmup, int reps)
    {
        for (int i = 0; i < warmup; i++) action();
        Sync();
        var times = new double[reps];
        for (int i = 0; i < reps; i++)
        {
            var sw = Stopwatch.StartNew();
            action();
            Sync();
            times[i] = sw.Elapsed.TotalMilliseconds;
        }
        Array.Sort(times);
        return (times[reps / 2], times[0], times[^1]);
    }
}
