// `cm inspect` names the architecture a file fits; `cm convert` round-trips .pt <-> .safetensors and changes dtypes.
using ConsistencyModels.IO.Checkpoints;
using ConsistencyModels.Presets;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Cli;

public class InspectConvertTests
{
    [Fact]
    public void BuiltInWeightsRoundTripThroughPtAndSafetensorsAndAreRecognised()
    {
        using var dir = new TempDir();
        var state = BuiltInModels.LoadStateDict(BuiltInModels.CdFashionMnist32);
        TorchCheckpoint.Save(dir.File("model.pt"), state);

        var toSafetensors = CmProcess.Run("convert", dir.File("model.pt"), dir.File("model.safetensors"), "--dtype", "bf16");
        Assert.True(toSafetensors.ExitCode == 0, toSafetensors.All);
        Assert.Contains("1,922,881 parameters", toSafetensors.Stdout);
        // The fmnist32 network is named as such, not guessed as a 64 px config with the template's attention levels.
        string described = System.Text.RegularExpressions.Regex.Replace(toSafetensors.Stdout, @"\s+", " ");   // the console wraps long lines
        Assert.Contains("architecture of the built-in models ect_fmnist32, ict_fmnist32, cd_fmnist32, edm_fmnist32", described);
        Assert.Contains("32x32, attention at 8", described);
        Assert.DoesNotContain("should fit", toSafetensors.Stdout);
        var back = CmProcess.Run("convert", dir.File("model.safetensors"), dir.File("back.pt"), "--dtype", "fp32");
        Assert.True(back.ExitCode == 0, back.All);

        var reread = TorchCheckpoint.LoadStateDict(dir.File("back.pt"));
        Assert.Equal(state.Keys, reread.Keys);
        using var scope = NewDisposeScope();
        foreach (var (key, t) in state)
        {
            Assert.Equal(ScalarType.Float32, reread[key].dtype);
            // fp16 weights through bf16: within bf16's rounding (8 significant bits).
            Assert.True(allclose(reread[key], t.to(ScalarType.Float32), rtol: 1.0 / 128, atol: 1e-6), key);
        }

        var inspect = CmProcess.Run("inspect", dir.File("back.pt"));
        Assert.True(inspect.ExitCode == 0, inspect.All);
        Assert.Contains("built-in model cd_fmnist32", inspect.Stdout);
        Assert.Contains("Float32 x277", inspect.Stdout);

        // --keys lists every key with its shape in brackets (once read as console markup, which crashed).
        var keys = CmProcess.Run("inspect", dir.File("back.pt"), "--keys");
        Assert.True(keys.ExitCode == 0, keys.All);
        foreach (var (key, t) in state.Take(5).Concat(state.TakeLast(5)))
        {
            Assert.Contains(key, keys.Stdout);
            Assert.Contains($"[{string.Join(", ", t.shape)}]", keys.Stdout);
        }
    }

    [Fact]
    public void ReleasedNameWithOtherWeightsIsFlagged()
    {
        using var dir = new TempDir();
        TorchCheckpoint.Save(dir.File("cd_imagenet64_lpips.pt"), BuiltInModels.LoadStateDict(BuiltInModels.CdFashionMnist32));
        var r = CmProcess.Run("inspect", dir.File("cd_imagenet64_lpips.pt"));
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Contains("Its name says cd_imagenet64_lpips, but its keys/shapes do not fit", r.Stdout);
    }

    [Fact]
    public void NotACheckpointIsExplained()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("page.pt"), "<!DOCTYPE html><html>Not found</html>");
        var r = CmProcess.Run("inspect", dir.File("page.pt"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("HTML", r.All);
    }
}
