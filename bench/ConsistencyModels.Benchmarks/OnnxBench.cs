// The two inference routes side by side (issue 20): one-step denoising through ONNX Runtime (CPU provider) against our
// libtorch path, interleaved A/B in one process with the same thread count, at batch 1 and 8, for the built-in model
// and the full-size ImageNet-64 UNet (random weights, fp32). Both sides include their array <-> tensor copies, as a
// caller of either package pays them. Also the native runtime each route ships. Usage:
//   dotnet run -c Release --project bench/ConsistencyModels.Benchmarks -- --suite onnx [--quick] [--markdown FILE]
using ConsistencyModels.Diffusion;
using ConsistencyModels.Export;
using ConsistencyModels.Nn;
using ConsistencyModels.OnnxRuntime;
using ConsistencyModels.Pipelines;
using ConsistencyModels.Presets;
using Google.Protobuf;
using static TorchSharp.torch;

namespace ConsistencyModels.Benchmarks;

internal static class OnnxBench
{
    public static int Run(bool quick, string? markdown)
    {
        int threads = get_num_threads();
        var rows = new List<string>();
        var models = new (string Name, Func<UNetModel> Create)[]
        {
            ("cd_fmnist32 (built in)", () => ConsistencyPipeline.LoadBuiltIn().Model),
            ("ImageNet-64 UNet (cd_imagenet64 architecture, random weights)", () => { manual_seed(1); return new UNetModel(CheckpointPresets.ImageNet64(ConsistencyModels.Nn.DenoiserKind.Consistency)); }),
        };
        foreach (var (name, create) in models)
        {
            using var model = create();
            model.eval();
            var config = model.Config;
            Console.Error.WriteLine($"{name}: exporting");
            byte[] onnx = OnnxExport.Build(model, new OnnxExportOptions()).ToByteArray();
            using var ort = OnnxDenoiser.Load(onnx, new OnnxModelOptions { IntraOpThreads = threads });
            var scalings = KarrasDenoiser.FromConfig(config);
            foreach (int batch in new[] { 1, 8 })
            {
                int c = config.InChannels, s = config.ImageSize, reps = quick ? 3 : (config.ImageSize > 32 ? 7 : 25);
                var rng = new Random(batch);
                float[] x = [.. Enumerable.Range(0, batch * c * s * s).Select(_ => (float)(rng.NextDouble() * 160 - 80))];
                float[] sigma = [.. Enumerable.Repeat(80f, batch)];
                long[]? labels = config.ClassCond ? [.. Enumerable.Range(0, batch).Select(i => (long)(i % config.NumClasses))] : null;
                float[] Torch()
                {
                    using var _ = inference_mode();
                    using var scope = NewDisposeScope();
                    var y = labels is null ? null : tensor(labels);
                    var d = scalings.AsDenoiser((xi, t, yi) => model.call(xi, t, yi), y, clipDenoised: false);
                    return d(tensor(x, [batch, c, s, s]), tensor(sigma)).data<float>().ToArray();
                }
                float[] Ort() => ort.Denoise(x, sigma, labels);
                double diff = Torch().Zip(Ort(), (a, b) => Math.Abs(a - b)).Max();
                var (a, b) = Harness.RunInterleaved($"{name}, batch {batch}: libtorch", () => Torch(), $"{name}, batch {batch}: ONNX Runtime", () => Ort(),
                                                     warmup: 2, repetitions: reps, items: batch, unit: "img");
                rows.Add($"| {name} | {batch} | {a.MedianMs:F1} | {b.MedianMs:F1} | **{a.MedianMs / b.MedianMs:F2}x** | {diff:G2} |");
            }
        }
        var lines = new List<string>
        {
            $"{ConvYardstick.CpuName()}; {threads} threads on both routes (ONNX Runtime intra-op threads = libtorch's); one-step denoising at σ = 80, fp32, " +
            "medians of interleaved repetitions (A, B, B, A, ...), array in and out included on both sides",
            "",
            "| model | batch | libtorch ms | ONNX Runtime ms | libtorch / ORT time | max abs diff |",
            "|---|---|---|---|---|---|",
        };
        lines.AddRange(rows);
        lines.Add("");
        lines.Add("Native runtimes shipped with each route (this build's output folder): " + RuntimeSizes());
        foreach (var l in lines) Console.WriteLine(l);
        if (markdown is not null) File.WriteAllLines(markdown, lines);
        return 0;
    }

    /// <summary>Sizes of the native libraries beside the benchmark: libtorch's (what the TorchSharp route needs) and ONNX Runtime's.</summary>
    private static string RuntimeSizes()
    {
        var dir = AppContext.BaseDirectory;
        var files = Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Select(f => new FileInfo(f)).ToList();
        static string Mb(long b) => $"{b / 1e6:F0} MB";
        long torch = files.Where(f => f.Name.StartsWith("libtorch") || f.Name.StartsWith("libc10") || f.Name.StartsWith("libgomp") || f.Name.StartsWith("libLibTorchSharp") || f.Name == "TorchSharp.dll").Sum(f => f.Length);
        long ort = files.Where(f => f.Name.StartsWith("libonnxruntime") || f.Name.StartsWith("Microsoft.ML.OnnxRuntime")).Sum(f => f.Length);
        return $"libtorch + TorchSharp {Mb(torch)}; ONNX Runtime (all platforms' natives in the package, the linux-x64 one used here) {Mb(ort)}";
    }
}
