// `cm generate` end to end: npz equal to the official output; clear errors on bad input.
using ConsistencyModels.IO.Numpy;
using ConsistencyModels.Tests.IO;
using ConsistencyModels.Tests.Parity;
using Xunit;

namespace ConsistencyModels.Tests.Cli;

public sealed class GenerateCommandTests : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    private string Temp(string name) => _tmp.File(name);

    [SkippableFact]
    public void MultistepTwoBatchesNpzMatchesOfficial()
    {
        var npz = Temp("out.npz");
        var grid = Temp("grid.png");
        var r = CmProcess.Run("generate", "--model-config", FixturePaths.Require("e2e/config_imagenet64_w32_consistency.json"),
            "--checkpoint", FixturePaths.Require("model_imagenet64_topology.pt"), "--sampler", "multistep", "--ts", "0,22,39", "--steps", "40",
            "--generator", "determ", "--seed", "42", "--num-samples", "4", "--batch-size", "2", "--class-labels", "1,2,3,4",
            "--npz", npz, "--output", grid);
        Assert.True(r.ExitCode == 0, r.All);
        var expected = Npz.Read(FixturePaths.Require("e2e/e2e_im64_multistep_determ_2batches.npz"));
        var actual = Npz.Read(npz);
        EndToEndTests.AssertImagesMatch(expected["arr_0"].Data, actual["arr_0"].Data, "cm generate");
        Assert.Equal(expected["arr_1"].ToArray<long>(), actual["arr_1"].ToArray<long>());
        // The grid holds the same four images as the npz.
        var tiles = GridImages.Read(grid, 4, 64, 64, 3);
        for (int k = 0; k < 4; k++) Assert.Equal(GridImages.Image(actual["arr_0"].Data, k, 64, 64, 3), tiles[k]);
    }

    [SkippableFact]
    public void BadTsGivesAClearError()
    {
        var r = CmProcess.Run("generate", "--model-config", FixturePaths.Require("e2e/config_imagenet64_w32_consistency.json"),
            "--checkpoint", FixturePaths.Require("model_imagenet64_topology.pt"), "--sampler", "multistep", "--ts", "0,22", "--steps", "40");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("must end at steps-1 = 39", r.All);
        Assert.DoesNotContain("   at ", r.All);       // no stack trace
    }

    [SkippableFact]
    public void WrongArchitectureCheckpointNamesWhatItLooksLike()
    {
        var r = CmProcess.Run("generate", "--model-config", FixturePaths.Require("e2e/config_imagenet64_w32_consistency.json"),
            "--checkpoint", FixturePaths.Require("model_lsun256_topology.pt"), "-n", "1");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("does not fit the model", r.All);
        Assert.Contains("class_cond=false", r.All);
        Assert.Contains("missing keys", r.All);
        Assert.DoesNotContain("   at ", r.All);
    }

    [Fact]
    public void MissingCheckpointAndMissingModelAreReported()
    {
        var r = CmProcess.Run("generate", "--preset", "cd_imagenet64_lpips", "--checkpoint", "/nonexistent/cd_imagenet64_lpips.pt");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("does not exist", r.All);
        // No model options: the built-in architecture, here with weights from a file that is not there.
        r = CmProcess.Run("generate", "--checkpoint", "/nonexistent/x.pt");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("'/nonexistent/x.pt' does not exist", r.All);
        r = CmProcess.Run("generate", "--preset", "cd_imagenet64_lpipz", "--checkpoint", "x.pt");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("unknown preset", r.All);
    }

    [Fact]
    public void HelpExplainsTsAndSteps()
    {
        var r = CmProcess.Run("generate", "--help");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("0,22,39", r.All);
        Assert.Contains("0,106,200", r.All);
        Assert.Contains("--steps", r.All);
    }
}
