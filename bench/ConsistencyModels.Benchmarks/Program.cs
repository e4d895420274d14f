// Benchmarks of the ImageNet-64 UNet (random weights, 296M parameters) on this machine, each case against the same
// run's large 3x3 convolution in its own precision and layout (Yardstick.cs; the fp32 matmul row is information). Usage:
//   dotnet run -c Release --project bench/ConsistencyModels.Benchmarks -- [--threads N] [--quick] [--markdown FILE] [--skip-training]
//   ... -- --suite training [--threads N] [--quick] [--markdown FILE]   (TrainingBench.cs: EDM/CT/iCT/CD steps)
//   ... -- --suite training-phases [--threads N] [--quick] [--markdown FILE]   (TrainingPhases.cs: where a step's time goes)
//   ... -- --suite memory [--cases imagenet64-pt,imagenet64-safetensors,lsun256-pt,lsun256-safetensors] [--markdown FILE]
//        (MemoryBench.cs: peak resident memory of load + one-step generation at batch 1, each case in a fresh process)
//   ... -- --suite onnx [--quick] [--markdown FILE]   (OnnxBench.cs: ONNX Runtime against libtorch, one step, batch 1 and 8)
//   ... -- --suite precision [--quick] [--markdown FILE]   (only the interleaved fp32 / fp32 channels-last / bf16 one-step comparison)
//   ... -- --suite elementwise [--quick]   (ElementwiseBench.cs: SiLU, GroupNorm, dropout against a memory pass)
//   ... -- --device cuda [--cases yardstick,parity,imagenet,blocks,multistep,heun,lsun,train,defaults] [--quick] [--markdown FILE]   (GpuBench.cs)
using ConsistencyModels.Benchmarks;
using ConsistencyModels.IO.Checkpoints;
using ConsistencyModels.Nn;
using ConsistencyModels.Pipelines;
using ConsistencyModels.Presets;
using ConsistencyModels.Runtime;
using ConsistencyModels.Sampling;
using static TorchSharp.torch;

int? threads = null;
bool quick = false, skipTraining = false;
string? markdown = null, device = null, suite = null;
string[] gpuCases = [];
bool dry = false;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--threads": threads = int.Parse(args[++i]); break;
        case "--quick": quick = true; break;
        case "--skip-training": skipTraining = true; break;
        case "--markdown": markdown = args[++i]; break;
        case "--device": device = args[++i]; break;
        case "--cases": gpuCases = args[++i].Split(','); break;
        case "--dry": dry = true; break;
        case "--suite": suite = args[++i]; break;
        case "--memory-case": return MemoryBench.RunCase(args[i + 1], args[i + 2]);
        default: Console.Error.WriteLine($"unknown argument {args[i]}"); return 2;
    }
}
if (threads is int t) set_num_threads(t);
if (device == "cuda" || dry) return GpuBench.Run(gpuCases, quick, markdown, dry);
if (suite == "training") return TrainingBench.Run(quick, markdown);
if (suite == "training-phases") return TrainingPhases.Run(quick, markdown);
if (suite == "memory") return MemoryBench.Run(gpuCases, markdown);
if (suite == "onnx") return OnnxBench.Run(quick, markdown);
if (suite == "elementwise") return ElementwiseBench.Run(quick);
if (suite is not null && suite != "sampling" && suite != "precision") { Console.Error.WriteLine($"--suite must be sampling (default), precision, training, training-phases, elementwise, memory or onnx (got {suite})"); return 2; }
int reps = quick ? 3 : 5, heavyReps = quick ? 1 : 3;
Console.Error.WriteLine($"threads: {get_num_threads()}, {Environment.ProcessorCount} logical CPUs, {ConvYardstick.CpuName()}; {CpuFeatures.Describe(Precision.Bf16)}");
var results = new List<Measurement>();
var notes = new List<string>();

// Yardsticks on the same threads: a large 3x3 convolution in each precision and layout the cases use (the rate the
// UNet can at best reach), and, as information only, a large fp32 matmul.
var yardstick = new ConvYardstick();
var settings = new[] { (Label: "fp32", Dtype: ScalarType.Float32, Cl: false), (Label: "fp32 channels-last", Dtype: ScalarType.Float32, Cl: true),
                  (Label: "bf16 channels-last", Dtype: ScalarType.BFloat16, Cl: true) };
foreach (var s in settings) yardstick.Measure(results, s.Dtype, s.Cl, Pass.Forward, 2, reps);
if (suite != "precision" && !skipTraining) yardstick.Measure(results, ScalarType.Float32, false, Pass.ForwardBackward, 1, reps);
using (var a = randn(2048, 2048))
using (var b = randn(2048, 2048))
    results.Add(Harness.Run("matmul fp32 2048x2048 (information, not a yardstick)", () => { using var c = a.matmul(b); }, 2, reps, flops: 2.0 * 2048 * 2048 * 2048));
double matmulGflops = results[^1].GflopPerSecond!.Value;
// Which yardstick each row is measured against (yardstick and matmul rows: none).
var against = new Dictionary<Measurement, (ScalarType Dtype, bool Cl, Pass Pass)>();

var config = CheckpointPresets.ImageNet64(DenoiserKind.Consistency);
double flopsPerImage = FlopCounter.UNetForward(config, 1);
Console.Error.WriteLine($"ImageNet-64 UNet: {flopsPerImage / 1e9:F1} GFLOP per image (convolutions, linears, attention matmuls)");

// Random weights, but no zero-initialised layer, so that outputs (and precision errors) are not trivial.
UNetModel NewModel()
{
    manual_seed(1234);
    var m = new UNetModel(config);
    using (no_grad())
        foreach (var p in m.parameters())
            if (p.dim() == 1 || p.abs().max().item<float>() == 0) p.normal_(0, 0.02);
    m.eval();
    return m;
}

var request = new GenerationRequest { NumSamples = 8, BatchSize = 8, ClassLabels = [1, 2, 3, 4, 5, 6, 7, 8] };
if (suite == "precision")
{
    // Only the interleaved fp32 / fp32 channels-last / bf16 comparison (~4 min): the bf16 speed-up within one run.
    var (rows, interleaved) = Interleaved(NewModel, request, reps, flopsPerImage * 8, yardstick);
    foreach (var r in rows) { results.Add(r.Row); against[r.Row] = (r.Dtype, r.Cl, Pass.Forward); }
    yardstick.MeasureAgain(results, 1, reps);   // the yardsticks again after the runs; the best of the two counts
    var lines0 = Table(results, against, yardstick, matmulGflops);
    lines0.Add("");
    lines0.AddRange(interleaved().Select(n => "- " + n));
    foreach (var l in lines0) Console.WriteLine(l);
    if (markdown is not null) File.WriteAllLines(markdown, lines0);
    return 0;
}
var images = new Dictionary<string, byte[]>();
double forwardFp32B8 = 0, onestepFp32B8 = 0;
foreach (var (label, dtype, channelsLast) in settings)
{
    var precision = dtype == ScalarType.BFloat16 ? Precision.Bf16 : Precision.Fp32;
    int before = results.Count;
    using var model = NewModel();
    var pipeline = new ConsistencyPipeline(model, precision: precision, channelsLast: channelsLast);
    foreach (int batch in new[] { 1, 8 })
    {
        using var x = randn(batch, 3, 64, 64);
        using var tIn = full(batch, 100f);
        using var y = randint(0, 1000, [batch]);
        results.Add(Harness.Run($"UNet forward {label}, batch {batch}", () =>
        {
            using var _ = inference_mode();
            using var o = model.call(x, tIn, y);
        }, 1, batch == 1 ? reps : heavyReps, flopsPerImage * batch, batch, "img"));
    }
    double forward8 = results[^1].MedianMs;
    ConsistencyModels.IO.Images.ImageBatch? last = null;
    double networkMs = 0;
    pipeline.OnNetworkCall = dt => networkMs += dt.TotalMilliseconds;
    var wall = System.Diagnostics.Stopwatch.StartNew();
    results.Add(Harness.Run($"one-step sampling {label}, batch 8", () => last = pipeline.Generate(request), 1, heavyReps, flopsPerImage * 8, 8, "img"));
    double wallMs = wall.Elapsed.TotalMilliseconds;
    pipeline.OnNetworkCall = null;
    images[label] = last!.Images;
    // Measured inside the same calls: wall time of Generate minus the time spent in the network.
    notes.Add($"{label}: sampler overhead outside the network during one-step sampling at batch 8 = {(wallMs - networkMs) / wallMs * 100:F2}% " +
              $"({(wallMs - networkMs) / (1 + heavyReps):F1} ms per call)");
    if (label == "fp32") (forwardFp32B8, onestepFp32B8) = (forward8, results[^1].MedianMs);
    if (label != "fp32 channels-last")
        results.Add(Harness.Run($"two-step sampling (ts 0,22,39) {label}, batch 8", () => pipeline.Generate(request with
        {
            Sampling = new SamplingOptions { Sampler = SamplerKind.Multistep, Steps = 40, Ts = [0, 22, 39] },
        }), 0, heavyReps, 2 * flopsPerImage * 8, 8, "img"));
    if (label != "fp32 channels-last")
    {
        // EDM Heun: 3 steps = 5 evaluations at batch 8; the per-step figure is the median / 2.5 evaluations.
        var heun = request with { Sampling = new SamplingOptions { Sampler = SamplerKind.Heun, Steps = 3 } };
        results.Add(Harness.Run($"EDM Heun 3 steps (5 evaluations) {label}, batch 8", () => pipeline.Generate(heun), 0, heavyReps, 5 * flopsPerImage * 8, 8, "img"));
    }
    foreach (var m in results.Skip(before)) against[m] = (dtype, channelsLast, Pass.Forward);
}
foreach (var (label, img) in images.Where(kv => kv.Key != "fp32"))
{
    var reference = images["fp32"];
    int max = 0; long sum = 0;
    for (int i = 0; i < img.Length; i++) { int d = Math.Abs(img[i] - reference[i]); max = Math.Max(max, d); sum += d; }
    notes.Add($"{label} vs fp32, one-step images (random weights, 8 images): max |uint8 diff| = {max}, mean = {(double)sum / img.Length:F3}");
}

var (_, interleavedLater) = Interleaved(NewModel, request, reps, flopsPerImage * 8, yardstick);   // formatted after the last yardstick measurement

if (!skipTraining)
{
    // Training core: forward + backward at batch 8 (fp32).
    using var model = NewModel();
    model.train();
    using var x = randn(8, 3, 64, 64);
    using var tIn = full(8, 100f);
    using var y = randint(0, 1000, [8]);
    results.Add(Harness.Run("UNet forward+backward fp32, batch 8", () =>
    {
        using var scope = NewDisposeScope();
        var loss = model.call(x, tIn, y).square().mean();
        loss.backward();
        foreach (var p in model.parameters()) p.grad?.zero_();
    }, 0, heavyReps, 3 * flopsPerImage * 8, 8, "img"));
    against[results[^1]] = (ScalarType.Float32, false, Pass.ForwardBackward);
}

// Checkpoint load: a 1.2 GB .pt written once, read from a warm page cache.
var ckpt = Path.Combine(Path.GetTempPath(), "cm-bench-imagenet64.pt");
if (!File.Exists(ckpt)) using (var m = NewModel()) TorchCheckpoint.Save(ckpt, m.state_dict());
double gb = new FileInfo(ckpt).Length / 1e9;
File.ReadAllBytes(ckpt);   // warm the page cache
results.Add(Harness.Run($"read .pt state dict ({gb:F2} GB)", () =>
{
    var sd = TorchCheckpoint.LoadStateDict(ckpt);
    foreach (var v in sd.Values) v.Dispose();
}, 0, reps, items: gb, unit: "GB"));
results.Add(Harness.Run($"load checkpoint into a new pipeline ({gb:F2} GB)", () =>
{
    using var p = ConsistencyPipeline.Load(config, ckpt);
}, 0, heavyReps, items: gb, unit: "GB"));

// The yardsticks once more, at the end of the run; the best of the two measurements is the yardstick.
yardstick.MeasureAgain(results, 1, reps);

// Report.
notes.AddRange(interleavedLater());
var lines = Table(results, against, yardstick, matmulGflops);
lines.Add("");
lines.AddRange(notes.Select(n => "- " + n));
foreach (var l in lines) Console.WriteLine(l);
if (markdown is not null) File.WriteAllLines(markdown, lines);
return 0;

// The report's head and table: each row's rate against its yardstick ("-" for the yardstick and matmul rows themselves).
static List<string> Table(List<Measurement> results, Dictionary<Measurement, (ScalarType Dtype, bool Cl, Pass Pass)> against, ConvYardstick yardstick, double matmulGflops)
{
    var lines = new List<string>
    {
        $"threads {get_num_threads()}; {ConvYardstick.CpuName()}; {CpuFeatures.Describe(Precision.Bf16)}",
        $"yardstick {ConvYardstick.Shape} (GFLOP/s): {yardstick.Summary()}; fp32 matmul 2048^3 (information) {matmulGflops:F1}",
        "",
        "| case | median ms | min | max | n | GFLOP/s | % of conv3x3 (same precision, layout) | throughput | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|",
    };
    foreach (var m in results)
        lines.Add($"| {m.Name} | {m.MedianMs:F1} | {m.MinMs:F1} | {m.MaxMs:F1} | {m.Repetitions} | {(m.GflopPerSecond is double g ? g.ToString("F1") : "-")} | " +
                  $"{(against.TryGetValue(m, out var y) ? yardstick.Percent(m.GflopPerSecond, y.Dtype, y.Cl, y.Pass) : "-")} | " +
                  $"{(m.ItemsPerSecond is double ips ? $"{ips:F2} {m.ItemUnit}/s" : "-")} | {(m.PeakRssMb >= 0 ? m.PeakRssMb.ToString() : "-")} |");
    return lines;
}

// Interleaved comparison: the three variants alternate run by run, so VM drift hits all of them alike.
// Each variant's FLOP rate is given against the conv3x3 yardstick of its precision and layout.
// Returns the notes' formatter, to be called once the yardsticks have been measured again at the end of the run.
static (List<(Measurement Row, ScalarType Dtype, bool Cl)> Rows, Func<List<string>> Notes) Interleaved(Func<UNetModel> newModel, GenerationRequest request, int reps, double flopsPerCall, ConvYardstick yardstick)
{
    var variants = new[] { ("fp32 NCHW", Precision.Fp32, false), ("fp32 channels-last", Precision.Fp32, true), ("bf16 channels-last", Precision.Bf16, true) }
        .Select(v => (Name: v.Item1, Dtype: v.Item2 == Precision.Bf16 ? ScalarType.BFloat16 : ScalarType.Float32, Cl: v.Item3,
                      Pipeline: new ConsistencyPipeline(newModel(), precision: v.Item2, channelsLast: v.Item3))).ToArray();
    foreach (var v in variants) v.Pipeline.Generate(request);
    var times = variants.Select(_ => new List<double>()).ToArray();
    for (int r = 0; r < reps; r++)
        for (int i = 0; i < variants.Length; i++)
        {
            var sw = System.Diagnostics.Stopwatch.StartNew();
            variants[i].Pipeline.Generate(request);
            times[i].Add(sw.Elapsed.TotalMilliseconds);
        }
    var medians = times.Select(ts => ts.Order().ElementAt(ts.Count / 2)).ToArray();
    foreach (var v in variants) v.Pipeline.Dispose();
    var rows = variants.Select((v, i) => (new Measurement($"interleaved one-step sampling {v.Name}, batch 8", medians[i], times[i].Min(), times[i].Max(), reps, -1,
                                                          flopsPerCall, 8, "img"), v.Dtype, v.Cl)).ToList();
    return (rows, () =>
    {
        var notes = new List<string>();
        for (int i = 0; i < variants.Length; i++)
            notes.Add($"interleaved one-step sampling, batch 8, {reps} runs each: {variants[i].Name} median {medians[i]:F0} ms " +
                      $"(min {times[i].Min():F0}, max {times[i].Max():F0}) = {8000 / medians[i]:F2} img/s, {flopsPerCall / medians[i] / 1e6:F1} GFLOP/s = " +
                      $"{yardstick.Percent(flopsPerCall / medians[i] / 1e6, variants[i].Dtype, variants[i].Cl, Pass.Forward)} of conv3x3 {ConvYardstick.Describe(variants[i].Dtype, variants[i].Cl)}; " +
                      $"x{medians[0] / medians[i]:F2} vs fp32 NCHW, x{medians[1] / medians[i]:F2} vs fp32 channels-last");
        return notes;
    });
}
