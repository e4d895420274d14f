// Access to the golden tensors produced by the official implementation (../shared/fixtures, or $CM_FIXTURES).
using ConsistencyModels.IO.Checkpoints;
using ConsistencyModels.Tests.IO;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Parity;

internal sealed class Fixture : IDisposable
{
    private static readonly Dictionary<string, Fixture> Cache = [];
    private readonly IReadOnlyDictionary<string, Tensor> _tensors;
    public string Path { get; }

    private Fixture(string path)
    {
        Path = path;
        _tensors = TorchCheckpoint.LoadTensors(path);
    }

    /// <summary>The fixture file; skips the test when fixtures are absent (fails it under CI), see <see cref="FixturePaths.Require"/>.</summary>
    public static Fixture Open(string relativePath)
    {
        lock (Cache)
        {
            var full = FixturePaths.Require(relativePath);
            if (!Cache.TryGetValue(full, out var f)) Cache[full] = f = new Fixture(full);
            return f;
        }
    }

    public Tensor this[string key] => _tensors.TryGetValue(key, out var t) ? t
        : throw new KeyNotFoundException($"{Path} has no tensor '{key}'");

    public bool Has(string key) => _tensors.ContainsKey(key);
    public IEnumerable<string> Keys => _tensors.Keys;

    public void Dispose() { }
}

internal static class Close
{
    /// <summary>Asserts |a − b| ≤ atol + rtol·|b| elementwise, reporting the worst element.</summary>
    public static void Assert(Tensor expected, Tensor actual, double atol, double rtol = 0, string what = "")
    {
        Xunit.Assert.Equal(expected.shape, actual.shape);
        using var e = expected.to(ScalarType.Float64).cpu();
        using var a = actual.to(ScalarType.Float64).cpu();
        using var diff = (a - e).abs();
        using var tol = e.abs() * rtol + atol;
        using var excess = diff - tol;
        double worst = excess.max().item<double>();
        double maxDiff = diff.max().item<double>();
        Xunit.Assert.True(worst <= 0, $"{what}: max |diff| = {maxDiff:G4} exceeds atol {atol:G3} + rtol {rtol:G3}·|expected| (absmax expected {e.abs().max().item<double>():G4})");
    }

    /// <summary>Asserts max |diff| ≤ rel·max|expected| (one tolerance for a whole tensor) and prints the measured ratio.</summary>
    public static void RelativeToAbsMax(Tensor expected, Tensor actual, double rel, string what)
    {
        Xunit.Assert.Equal(expected.shape, actual.shape);
        double absmax = expected.abs().max().item<float>();
        double diff = MaxAbsDiff(expected, actual);
        Console.WriteLine($"{what}: max|diff| {diff:G3}, /absmax {diff / absmax:G3}");
        Xunit.Assert.True(diff <= rel * absmax, $"{what}: max |diff| {diff:G4} > {rel:G2} x absmax {absmax:G4} (ratio {diff / absmax:G3})");
    }

    /// <summary>The parameters whose gradients the loss fixtures record (losses_imagenet64.pt, ect_imagenet64.pt).</summary>
    public static readonly string[] LossGradParams =
        ["time_embed.0.weight", "label_emb.weight", "input_blocks.0.0.weight", "input_blocks.5.1.qkv.weight", "out.2.weight"];

    public static double MaxAbsDiff(Tensor expected, Tensor actual)
    {
        using var d = (expected.to(ScalarType.Float64).cpu() - actual.to(ScalarType.Float64).cpu()).abs();
        return d.max().item<double>();
    }
}
