// `cm generate`: more bad inputs that must fail with one readable message (no stack trace), and the npz/label-count
// behaviour of unconditional models and of --class-labels without -n, checked against the official outputs.
using ConsistencyModels.IO.Images;
using ConsistencyModels.IO.Numpy;
using ConsistencyModels.Tests.IO;
using ConsistencyModels.Tests.Parity;
using Xunit;

namespace ConsistencyModels.Tests.Cli;

public sealed class GenerateCommandErrorTests : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    private static string ImageNetConfig => FixturePaths.Require("e2e/config_imagenet64_w32_consistency.json");
    private static string ImageNetWeights => FixturePaths.Require("model_imagenet64_topology.pt");
    private static string LsunConfig => FixturePaths.Require("e2e/config_lsun256_w32_consistency.json");
    private static string LsunWeights => FixturePaths.Require("model_lsun256_topology.pt");

    /// <summary>Failed, with a message containing every fragment, and without a .NET stack trace.</summary>
    private static void AssertCleanFailure(CmProcess.Result r, params string[] fragments)
    {
        Assert.True(r.ExitCode != 0, $"expected a failure, got exit code 0:\n{r.All}");
        foreach (var f in fragments) Assert.Contains(f, r.All, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("   at ", r.All);            // stack-trace frame
        Assert.DoesNotContain("Unhandled exception", r.All);
    }

    [Fact]
    public void UnknownOptionFailsNamingIt()
    {
        // The official script's spelling (--num_samples) is not an option of cm (--num-samples): strict parsing must
        // reject it instead of silently generating the default 16 samples.
        var r = CmProcess.Run("generate", "--preset", "cd_imagenet64_lpips", "--checkpoint", "/nonexistent/cd_imagenet64_lpips.pt", "--num_samples", "2");
        AssertCleanFailure(r, "num_samples");
        Assert.DoesNotContain("does not exist", r.All);        // rejected while parsing, before looking at the checkpoint
    }

    [SkippableFact]
    public void CudaOnACpuOnlyBuildFailsClearly()
    {
        Skip.If(TorchSharp.torch.cuda.is_available(), "this test is about machines without CUDA");
        var npz = _tmp.File("out.npz");
        var r = CmProcess.Run("generate", "--model-config", ImageNetConfig, "--checkpoint", ImageNetWeights, "-n", "1",
            "--device", "cuda", "--npz", npz);
        AssertCleanFailure(r, "--device cuda", "CUDA");
        Assert.False(File.Exists(npz), "no output may be written when the device is unusable");
    }

    [SkippableFact]
    public void ClassLabelsForAnUnconditionalModelFailClearly()
    {
        var r = CmProcess.Run("generate", "--model-config", LsunConfig, "--checkpoint", LsunWeights, "--class-labels", "1",
            "--npz", _tmp.File("out.npz"));
        AssertCleanFailure(r, "unconditional", "class labels");
    }

    [SkippableFact]
    public void PngPassedAsCheckpointFailsClearly()
    {
        var png = _tmp.File("weights.png");
        ImageIO.SavePng(png, new byte[8 * 8 * 3], 8, 8, 3);
        var (pixels, h, w) = ImageIO.LoadRgb(png);             // a real PNG: it decodes to the black 8x8 image written
        Assert.Equal((8, 8), (h, w));
        Assert.Equal(new byte[8 * 8 * 3], pixels);
        var npz = _tmp.File("out.npz");
        var r = CmProcess.Run("generate", "--model-config", ImageNetConfig, "--checkpoint", png, "-n", "1", "--npz", npz);
        AssertCleanFailure(r, "weights.png", "checkpoint");   // names the file and what it should have been
        Assert.False(File.Exists(npz));
    }

    [SkippableFact]
    public void ConfigWithATypoKeyFailsNamingTheKey()
    {
        var text = File.ReadAllText(ImageNetConfig);
        Assert.Contains("\"num_res_blocks\"", text);
        var config = _tmp.File("typo.json");
        File.WriteAllText(config, text.Replace("\"num_res_blocks\"", "\"num_res_block\""));
        var r = CmProcess.Run("generate", "--model-config", config, "--checkpoint", ImageNetWeights, "-n", "1", "--npz", _tmp.File("out.npz"));
        AssertCleanFailure(r, "'num_res_block'");
    }

    [SkippableFact]
    public void UnconditionalNpzHasEmptyLabelArrayAndMatchesOfficial()
    {
        var npz = _tmp.File("lsun.npz");
        // The settings of e2e_lsun_onestep_indiv (onestep, determ-indiv, seed 1, one sample), so the image is checked too.
        var r = CmProcess.Run("generate", "--model-config", LsunConfig, "--checkpoint", LsunWeights, "-n", "1",
            "--generator", "determ-indiv", "--seed", "1", "--npz", npz);
        Assert.True(r.ExitCode == 0, r.All);
        var actual = Npz.Read(npz);
        Assert.Equal(new long[] { 1, 256, 256, 3 }, actual["arr_0"].Shape);
        Assert.Equal(NpyDtype.UInt8, actual["arr_0"].Dtype);
        Assert.True(actual.ContainsKey("arr_1"), "arr_1 must be present (empty) as in the official npz");
        Assert.Equal(new long[] { 0 }, actual["arr_1"].Shape);
        Assert.Equal(NpyDtype.Int64, actual["arr_1"].Dtype);
        var expected = Npz.Read(FixturePaths.Require("e2e/e2e_lsun_onestep_indiv.npz"));
        Assert.Equal(expected["arr_1"].Shape, actual["arr_1"].Shape);
        EndToEndTests.AssertImagesMatch(expected["arr_0"].Data, actual["arr_0"].Data, "cm generate lsun256");
    }

    [SkippableFact]
    public void ClassLabelListWithoutNumSamplesGivesOneSamplePerLabel()
    {
        var npz = _tmp.File("im64.npz");
        // No -n, --seed, --generator, --sampler or --batch-size: the defaults (seed 42, determ, onestep, batch = n) are
        // the settings of e2e_im64_onestep_determ, so the four images must also equal the official ones.
        var r = CmProcess.Run("generate", "--model-config", ImageNetConfig, "--checkpoint", ImageNetWeights,
            "--class-labels", "3,917,0,999", "--npz", npz);
        Assert.True(r.ExitCode == 0, r.All);
        var actual = Npz.Read(npz);
        Assert.Equal(new long[] { 4, 64, 64, 3 }, actual["arr_0"].Shape);
        Assert.Equal(new long[] { 3, 917, 0, 999 }, actual["arr_1"].ToArray<long>());
        var expected = Npz.Read(FixturePaths.Require("e2e/e2e_im64_onestep_determ.npz"));
        Assert.Equal(expected["arr_1"].ToArray<long>(), actual["arr_1"].ToArray<long>());
        EndToEndTests.AssertImagesMatch(expected["arr_0"].Data, actual["arr_0"].Data, "cm generate --class-labels 3,917,0,999");
    }
}
