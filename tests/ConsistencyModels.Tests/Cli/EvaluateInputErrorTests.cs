// `cm evaluate` on files it cannot score: one line naming the file and why, before any feature network is loaded.
using ConsistencyModels.IO.Numpy;
using ConsistencyModels.Metrics;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Cli;

public sealed class EvaluateInputErrorTests : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    private string Write(string name, params NpyArray[] arrays)
    {
        Npz.Write(_tmp.File(name), arrays);
        return _tmp.File(name);
    }

    private static NpyArray Images(string name, Tensor t) => NpyArray.FromTensor(name, t);

    /// <summary>
    /// `cm evaluate` with an Inception file that does not exist: had the command loaded a feature network (or embedded
    /// anything) before checking its inputs, the error would be about that file instead.
    /// </summary>
    private CmProcess.Result Evaluate(string samples, params string[] extra) =>
        CmProcess.Run(["evaluate", "--samples", samples, "--feature-extractor", "inception", "--inception", _tmp.File("no-inception.pt"), .. extra]);

    private static void AssertOneLine(CmProcess.Result r, params string[] fragments)
    {
        Assert.True(r.ExitCode == 2, $"expected exit code 2:\n{r.All}");
        Assert.DoesNotContain("   at ", r.All);
        Assert.DoesNotContain("Exception", r.All);
        Assert.DoesNotContain("no-inception.pt", r.All);           // refused before the feature network was looked for
        var error = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", error);
        foreach (var f in fragments) Assert.Contains(f, error);
    }

    [Fact]
    public void Float32SamplesAreRefusedNamingTheFile()
    {
        using var scope = NewDisposeScope();
        var path = Write("f32.npz", Images("arr_0", zeros([4, 32, 32, 1], ScalarType.Float32)));
        AssertOneLine(Evaluate(path), "f32.npz", "float32", "uint8");
    }

    [Fact]
    public void ThreeDimensionalSamplesAreRefusedNamingTheFile()
    {
        using var scope = NewDisposeScope();
        var path = Write("grey.npz", Images("arr_0", zeros([4, 32, 32], ScalarType.Byte)));
        AssertOneLine(Evaluate(path), "grey.npz", "[4, 32, 32]", "[N, H, W, 1]");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void FewerThanTwoSamplesAreRefusedBeforeAnyNetworkWork(int count)
    {
        using var scope = NewDisposeScope();
        var path = Write("few.npz", Images("arr_0", zeros([count, 32, 32, 3], ScalarType.Byte)));
        var reference = Write("ref.npz", Images("arr_0", zeros([4, 32, 32, 3], ScalarType.Byte)));
        AssertOneLine(Evaluate(path, "--reference", reference), "few.npz", $"holds {count} image", "at least 2");
    }

    [Fact]
    public void ReferenceStatisticsOfMismatchedShapesAreRefusedNamingTheFile()
    {
        using var scope = NewDisposeScope();
        var samples = Write("samples.npz", Images("arr_0", zeros([4, 32, 32, 3], ScalarType.Byte)));
        var reference = Write("ref.npz", NpyArray.FromTensor("mu", zeros([2048], ScalarType.Float64)),
                              NpyArray.FromTensor("sigma", zeros([64, 64], ScalarType.Float64)));
        AssertOneLine(Evaluate(samples, "--reference", reference), "ref.npz", "mu is float64 [2048]", "sigma float64 [64, 64]");
    }


    [Fact]
    public void TheLibraryNamesTheFileInItsOwnExceptionType()
    {
        using var scope = NewDisposeScope();
        var path = Write("f32.npz", Images("arr_0", zeros([4, 32, 32, 1], ScalarType.Float32)));
        var e = Assert.Throws<EvaluationInputException>(() => ImageSource.FromNpz(path));
        Assert.Equal(path, e.Input);
        Assert.StartsWith(path + ": arr_0 is float32", e.Message);
        var one = ImageSource.FromNpz(Write("one.npz", Images("arr_0", zeros([1, 8, 8, 1], ScalarType.Byte))))!;
        Assert.Contains("holds 1 image", Assert.Throws<EvaluationInputException>(() => one.RequireScorable()).Message);
    }
}
