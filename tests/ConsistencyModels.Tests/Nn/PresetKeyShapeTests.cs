// Full-size preset architectures against the official key lists, built on the meta device (no 2 GB allocation).
using ConsistencyModels.Nn;
using ConsistencyModels.Presets;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Nn;

public class PresetKeyShapeTests
{
    private static string? ReferenceFile(string name)
    {
        var dir = ConsistencyModels.Tests.IO.FixturePaths.Dir;
        var path = dir is null ? null : Path.GetFullPath(Path.Combine(dir, "..", "reference", name));
        return path is not null && File.Exists(path) ? path : null;
    }

    [Theory]
    [InlineData("cd_imagenet64_lpips", "keys_imagenet64.txt", 295_899_267L)]
    [InlineData("edm_imagenet64_ema", "keys_imagenet64.txt", 295_899_267L)]
    [InlineData("ct_bedroom256", "keys_lsun256.txt", 526_304_771L)]
    [InlineData("cd_cat256_lpips", "keys_lsun256.txt", 526_304_771L)]
    public void PresetHasOfficialKeysShapesAndOrder(string preset, string keysFile, long parameters)
    {
        var path = ReferenceFile(keysFile);
        if (path is null)
        {
            Assert.False(Environment.GetEnvironmentVariable("CI") == "true", $"reference key list {keysFile} not found");
            return;
        }
        var expected = File.ReadAllLines(path).Where(l => l.Length > 0).Select(l =>
        {
            var parts = l.Split('\t');
            return (Key: parts[0], Shape: parts[1].Trim('[', ']').Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(long.Parse).ToArray());
        }).ToList();

        using var model = new UNetModel(CheckpointPresets.Get(preset).Model, META);
        var actual = model.state_dict().Select(kv => (kv.Key, Shape: kv.Value.shape)).ToList();

        Assert.Equal(expected.Select(e => e.Key), actual.Select(a => a.Key));   // names and order
        for (int i = 0; i < expected.Count; i++)
            Assert.True(expected[i].Shape.SequenceEqual(actual[i].Shape), $"{expected[i].Key}: expected [{string.Join(",", expected[i].Shape)}], got [{string.Join(",", actual[i].Shape)}]");
        Assert.Equal(parameters, model.ParameterCount());
    }

    [Fact]
    public void AllTwelvePresetsAndSixRecipesExist()
    {
        Assert.Equal(12, CheckpointPresets.All.Count);
        foreach (var family in new[] { "imagenet64", "bedroom256", "cat256" })
        {
            Assert.Contains(CheckpointPresets.All, p => p.Name == $"cd_{family}_l2");
            Assert.Contains(CheckpointPresets.All, p => p.Name == $"cd_{family}_lpips");
            Assert.Contains(CheckpointPresets.All, p => p.Name == $"ct_{family}");
            Assert.Contains(CheckpointPresets.All, p => p.Name == $"edm_{family}_ema");
        }
        foreach (var r in CheckpointPresets.Recipes) Assert.NotNull(CheckpointPresets.Get(r.Preset));
        Assert.Equal([0, 22, 39], CheckpointPresets.Get("cd_imagenet64_lpips").TwoStepTs);
        Assert.Equal([0, 106, 200], CheckpointPresets.Get("ct_imagenet64").TwoStepTs);
        Assert.Equal(201, CheckpointPresets.Get("ct_imagenet64").Steps);
        Assert.Equal([0, 62, 150], CheckpointPresets.Get("ct_cat256").TwoStepTs);
        Assert.Equal(DenoiserKind.Edm, CheckpointPresets.Get("edm_bedroom256_ema").Model.Denoiser);
    }
}
