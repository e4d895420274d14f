// Benchmarks of the ImageNet-64 UNet (random weights, 296M parameters) on this machine, with the same-run fp32
// matmul rate as the yardstick. Usage: dotnet run -c Release --project bench/ConsistencyModels.Benchmarks -- [--threads N] [--quick] [--markdown FILE]
using ConsistencyModels.Benchmarks;
using ConsistencyModels.Diffusion;
using ConsistencyModels.IO.Checkpoints;
using ConsistencyModels.Nn;
using ConsistencyModels.Pipelines;
using ConsistencyModels.Presets;
using ConsistencyModels.Sampling;
using static TorchSharp.torch;

int? threads = null;
bool quick = false;
string? markdown = null;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--threads": threads = int.Parse(args[++i]); break;
        case "--quick": quick = true; break;
        case "--markdown": markdown = args[++i]; break;
        default: Console.Error.WriteLine($"unknown argument {args[i]}"); return 2;
    }
}
if (threads is int t) set_num_threads(t);
int reps = quick ? 3 : 5, heavyReps = quick ? 1 : 3;
Console.Error.WriteLine($"threads: {get_num_threads()}, {Environment.ProcessorCount} logical CPUs, libtorch CPU");
var results = new List<Measurement>();

// Yardstick: a large fp32 matmul on the same threads.
using (var a = randn(2048, 2048))
using (var b = randn(2048, 2048))
    results.Add(Harness.Run("matmul fp32 2048x2048", () => { using var c = a.matmul(b); }, 2, reps, flops: 2.0 * 2048 * 2048 * 2048));
double matmulGflops = results[^1].GflopPerSecond!.Value;

var config = CheckpointPresets.ImageNet64(DenoiserKind.Consistency);
using var model = new UNetModel(config);
model.eval();
Console.Error.WriteLine($"ImageNet-64 UNet: {model.ParameterCount():N0} parameters, {FlopCounter.UNetForward(config, 1) / 1e9:F1} GFLOP per image");

foreach (int batch in new[] { 1, 8 })
{
    using var x = randn(batch, 3, 64, 64);
    using var tIn = full(batch, 100f);
    using var y = randint(0, 1000, [batch]);
    results.Add(Harness.Run($"UNet forward fp32, batch {batch}", () =>
    {
        using var _ = inference_mode();
        using var o = model.call(x, tIn, y);
    }, 1, batch == 1 ? reps : heavyReps, FlopCounter.UNetForward(config, batch), batch, "img"));
}
double forward8 = results[^1].MedianMs;

// Sampling end to end (generator, preconditioning, sampler, uint8 conversion).
var pipeline = new ConsistencyPipeline(model);
var request = new GenerationRequest { NumSamples = 8, BatchSize = 8, ClassLabels = [1, 2, 3, 4, 5, 6, 7, 8] };
results.Add(Harness.Run("one-step sampling, batch 8", () => pipeline.Generate(request), 1, heavyReps, FlopCounter.UNetForward(config, 8), 8, "img"));
double onestep8 = results[^1].MedianMs;
results.Add(Harness.Run("two-step sampling (ts 0,22,39), batch 8", () => pipeline.Generate(request with
{
    Sampling = new SamplingOptions { Sampler = SamplerKind.Multistep, Steps = 40, Ts = [0, 22, 39] },
}), 0, heavyReps, 2 * FlopCounter.UNetForward(config, 8), 8, "img"));

// EDM Heun: 3 steps = 5 evaluations at batch 1, reported per step below.
var heunRequest = new GenerationRequest { NumSamples = 1, BatchSize = 1, ClassLabels = [1], Sampling = new SamplingOptions { Sampler = SamplerKind.Heun, Steps = 3 } };
results.Add(Harness.Run("EDM Heun 3 steps (5 evaluations), batch 1", () => pipeline.Generate(heunRequest), 0, heavyReps, 5 * FlopCounter.UNetForward(config, 1), 1, "img"));

// Training core: forward + backward at batch 8.
using (var x = randn(8, 3, 64, 64))
using (var tIn = full(8, 100f))
using (var y = randint(0, 1000, [8]))
{
    model.train();
    results.Add(Harness.Run("UNet forward+backward fp32, batch 8", () =>
    {
        using var scope = NewDisposeScope();
        var loss = model.call(x, tIn, y).square().mean();
        loss.backward();
        foreach (var p in model.parameters()) p.grad?.zero_();
    }, 0, heavyReps, 3 * FlopCounter.UNetForward(config, 8), 8, "img"));
    model.eval();
    foreach (var p in model.parameters()) { p.grad?.Dispose(); }
}

// Checkpoint load: a 1.2 GB .pt written once, read from a warm page cache.
var ckpt = Path.Combine(Path.GetTempPath(), "cm-bench-imagenet64.pt");
if (!File.Exists(ckpt)) TorchCheckpoint.Save(ckpt, model.state_dict());
double gb = new FileInfo(ckpt).Length / 1e9;
File.ReadAllBytes(ckpt);   // warm the page cache
results.Add(Harness.Run($"load .pt state dict ({gb:F2} GB)", () =>
{
    var sd = TorchCheckpoint.LoadStateDict(ckpt);
    foreach (var v in sd.Values) v.Dispose();
}, 0, reps, items: gb, unit: "GB"));
results.Add(Harness.Run($"load checkpoint into a new pipeline ({gb:F2} GB)", () =>
{
    using var p = ConsistencyPipeline.Load(config, ckpt);
}, 0, heavyReps, items: gb, unit: "GB"));

// Report.
var lines = new List<string>
{
    $"threads {get_num_threads()}; fp32 matmul yardstick {matmulGflops:F1} GFLOP/s; sampler overhead outside the network " +
    $"(one-step batch 8 vs forward batch 8): {(onestep8 - forward8) / onestep8 * 100:F1}%",
    "",
    "| case | median ms | min | max | n | GFLOP/s | % of matmul | throughput | peak RSS MB |",
    "|---|---|---|---|---|---|---|---|---|",
};
foreach (var m in results)
    lines.Add($"| {m.Name} | {m.MedianMs:F1} | {m.MinMs:F1} | {m.MaxMs:F1} | {m.Repetitions} | {(m.GflopPerSecond is double g ? g.ToString("F1") : "-")} | " +
              $"{(m.GflopPerSecond is double g2 ? (g2 / matmulGflops * 100).ToString("F0") + "%" : "-")} | " +
              $"{(m.ItemsPerSecond is double ips ? $"{ips:F2} {m.ItemUnit}/s" : "-")} | {m.PeakRssMb} |");
foreach (var l in lines) Console.WriteLine(l);
if (markdown is not null) File.WriteAllLines(markdown, lines);
return 0;
