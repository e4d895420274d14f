// Same-run yardsticks (issue 17): a large 3x3 convolution per precision and layout, the rate the UNet's convolutions
// (almost all of its FLOPs) can at best reach on these threads. Each case is reported as a percentage of the yardstick in
// its own precision and layout; a matmul is no yardstick here, since oneDNN's convolutions can beat MKL's fp32 matmul.
using ConsistencyModels.Nn;
using static TorchSharp.torch;

namespace ConsistencyModels.Benchmarks;

internal enum Pass { Forward, ForwardBackward }

internal sealed class ConvYardstick
{
    // The 32x32 level of the ImageNet-64 UNet (384 channels) at batch 8: 21.7 GFLOP forward, large enough to run at
    // the kernels' full rate.
    public const int Batch = 8, Channels = 384, Size = 32;
    public static string Shape => $"conv3x3 {Channels}->{Channels}, {Size}x{Size}, batch {Batch}";

    // Every measurement of each yardstick; the yardstick is the best of them.
    private readonly Dictionary<(ScalarType, bool, Pass), List<double>> _gflops = [];

    /// <summary>
    /// Measures the yardstick in one precision, layout and pass and adds its row to <paramref name="results"/>. The
    /// suites measure each one at the start and again at the end and use the higher rate: on a shared machine a
    /// neighbour's burst during one measurement would otherwise move every percentage of the run.
    /// </summary>
    public void Measure(List<Measurement> results, ScalarType dtype, bool channelsLast, Pass pass, int warmup, int reps)
    {
        double forwardFlops = 2.0 * Batch * Channels * Channels * 9 * Size * Size;
        using var scope = NewDisposeScope();
        Tensor Make(Tensor t) { var d = t.to(dtype); return channelsLast ? MemoryLayout.ToChannelsLast(d) : d; }
        var x = Make(randn(Batch, Channels, Size, Size));
        var w = Make(randn(Channels, Channels, 3, 3) * 0.02);
        var b = zeros(Channels, dtype: dtype);
        var gradOut = Make(randn(Batch, Channels, Size, Size));
        var key = (dtype, channelsLast, pass);
        string name = $"yardstick {Shape}, {Describe(dtype, channelsLast)}, {(pass == Pass.Forward ? "forward" : "forward+backward")}" +
                      (_gflops.ContainsKey(key) ? " (again, end of run)" : "");
        Measurement m;
        if (pass == Pass.Forward)
            m = Harness.Run(name, () => { using var _ = inference_mode(); using var o = nn.functional.conv2d(x, w, b, padding: [1, 1]); }, warmup, reps, forwardFlops);
        else
        {
            // Input and weight gradients, as for every convolution but the first of a network being trained: 3x the forward FLOPs.
            x.requires_grad_(true); w.requires_grad_(true); b.requires_grad_(true);
            m = Harness.Run(name, () =>
            {
                using var inner = NewDisposeScope();
                nn.functional.conv2d(x, w, b, padding: [1, 1]).backward([gradOut]);
                x.grad?.zero_(); w.grad?.zero_(); b.grad?.zero_();
            }, warmup, reps, 3 * forwardFlops);
        }
        results.Add(m);
        (_gflops.TryGetValue(key, out var l) ? l : _gflops[key] = []).Add(m.GflopPerSecond!.Value);
    }

    public static string Describe(ScalarType dtype, bool channelsLast) =>
        (dtype switch { ScalarType.BFloat16 => "bf16", ScalarType.Float16 => "fp16", _ => "fp32" }) + (channelsLast ? " channels-last" : " NCHW");

    /// <summary>Achieved rate as a percentage of the yardstick in the same precision, layout and pass ("-" if none).</summary>
    public string Percent(double? gflops, ScalarType dtype, bool channelsLast, Pass pass) =>
        gflops is double g && _gflops.TryGetValue((dtype, channelsLast, pass), out var y) ? $"{g / y.Max() * 100:F0}%" : "-";

    /// <summary>The CPU's model name from /proc/cpuinfo (Linux), or the architecture.</summary>
    public static string CpuName()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"));
            if (line is not null) return line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
    }

    /// <summary>Every yardstick: the rate used (the best) and, if measured more than once, each measurement.</summary>
    public string Summary() => string.Join("; ", _gflops.Select(kv =>
        $"{Describe(kv.Key.Item1, kv.Key.Item2)} {(kv.Key.Item3 == Pass.Forward ? "forward" : "forward+backward")} {kv.Value.Max():F1}" +
        (kv.Value.Count > 1 ? $" (best of {string.Join(", ", kv.Value.Select(v => v.ToString("F1")))})" : "")));

    /// <summary>Measures every yardstick measured so far once more (the end-of-run measurement).</summary>
    public void MeasureAgain(List<Measurement> results, int warmup, int reps)
    {
        foreach (var (dtype, cl, pass) in _gflops.Keys.ToList()) Measure(results, dtype, cl, pass, warmup, reps);
    }
}
