// Multistep sampling at explicit noise levels (ECT's --sigmas 80,0.821): the same math as ts on the same σ.
using System.Globalization;
using ConsistencyModels.Diffusion;
using ConsistencyModels.IO.Numpy;
using ConsistencyModels.Pipelines;
using ConsistencyModels.Presets;
using ConsistencyModels.Sampling;
using ConsistencyModels.Tests.Cli;
using Xunit;

namespace ConsistencyModels.Tests.Sampling;

public sealed class SigmasTests : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    private static double[] SigmasOf(int[] ts, int steps) => ts[..^1].Select(i => KarrasSchedule.SigmaAt(i, steps, 0.002, 80, 7)).ToArray();

    [Fact]
    public void SigmasEqualToTheTsGridGiveTheSameImages()
    {
        using var pipe = ConsistencyPipeline.Load(ModelSpec.Resolve());
        int[] ts = [0, 12, 22, 39];
        var viaTs = new SamplingOptions { Sampler = SamplerKind.Multistep, Steps = 40, Ts = ts };
        var viaSigmas = new SamplingOptions { Sampler = SamplerKind.Multistep, Sigmas = SigmasOf(ts, 40) };
        Assert.Equal(viaTs.Evaluations, viaSigmas.Evaluations);
        GenerationRequest Request(SamplingOptions o) => new() { NumSamples = 4, BatchSize = 4, Seed = 3, ClassLabels = [0, 3, 5, 9], Sampling = o };
        Assert.Equal(pipe.Generate(Request(viaTs)).Images, pipe.Generate(Request(viaSigmas)).Images);
    }

    [Theory]
    [InlineData(new[] { 0.821, 80.0 }, "strictly descending")]
    [InlineData(new[] { 80.0, 80.0 }, "strictly descending")]
    [InlineData(new[] { 81.0 }, "outside (σ_min, σ_max]")]
    [InlineData(new[] { 80.0, 0.002 }, "outside (σ_min, σ_max]")]
    [InlineData(new double[0], "at least one")]
    public void BadSigmasAreRefusedNamingTheProperty(double[] sigmas, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => new SamplingOptions { Sampler = SamplerKind.Multistep, Sigmas = sigmas }.Validate());
        Assert.Contains("`Sigmas`", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.Contains("not both", Assert.Throws<ArgumentException>(() =>
            new SamplingOptions { Sampler = SamplerKind.Multistep, Ts = [0, 39], Sigmas = [80.0] }.Validate()).Message);
        Assert.Contains("only applies", Assert.Throws<ArgumentException>(() =>
            new SamplingOptions { Sampler = SamplerKind.Heun, Sigmas = [80.0] }.Validate()).Message);
    }

    [Fact]
    public void CliSigmasMatchTheTsPathAndRefuseBadListsInOneLine()
    {
        var sigmas = string.Join(",", SigmasOf([0, 22, 39], 40).Select(s => s.ToString("R", CultureInfo.InvariantCulture)));
        var a = _tmp.File("ts.npz");
        var b = _tmp.File("sigmas.npz");
        var r1 = CmProcess.Run("generate", "-n", "6", "--sampler", "multistep", "--ts", "0,22,39", "--npz", a);
        var r2 = CmProcess.Run("generate", "-n", "6", "--sigmas", sigmas, "--npz", b);
        Assert.True(r1.ExitCode == 0, r1.All);
        Assert.True(r2.ExitCode == 0, r2.All);
        Assert.Equal(Npz.Read(a)["arr_0"].ToArray<byte>(), Npz.Read(b)["arr_0"].ToArray<byte>());

        var bad = CmProcess.Run("generate", "-n", "2", "--sigmas", "0.821,80");
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("--sigmas must be strictly descending", bad.All);
        Assert.DoesNotContain("   at ", bad.All);
        // The library's checks, in the CLI's words.
        Assert.Contains("--ts or --sigmas, not both", CmProcess.Run("generate", "-n", "1", "--ts", "0,39", "--sigmas", "80").All);
        Assert.Contains("--sigmas only applies to the multistep --sampler", CmProcess.Run("generate", "-n", "1", "--sampler", "heun", "--sigmas", "80").All);
    }

    [Fact]
    public void EditingAtSigmasEqualsEditingAtTheSameTs()
    {
        using var pipe = ConsistencyPipeline.Load(ModelSpec.Resolve());
        using var scope = TorchSharp.torch.NewDisposeScope();
        var images = TorchSharp.torch.rand([2, 1, 32, 32]) * 2 - 1;
        int[] ts = [0, 8, 20, 39];
        var request = new ConsistencyModels.Editing.EditRequest { Task = ConsistencyModels.Editing.EditTask.Inpaint, Images = images, ClassLabels = [1, 2], Ts = ts };
        var viaTs = ConsistencyModels.Editing.ImageEditor.Edit(pipe, request);
        var viaSigmas = ConsistencyModels.Editing.ImageEditor.Edit(pipe, request with { Ts = null, Sigmas = SigmasOf(ts, 40) });
        Assert.Equal(request.Evaluations, (request with { Ts = null, Sigmas = SigmasOf(ts, 40) }).Evaluations);
        Assert.Equal(viaTs.Edited.Images, viaSigmas.Edited.Images);
    }
}
