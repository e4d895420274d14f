// Full-size preset architectures against the official key lists, built on the meta device (no 2 GB allocation).
using ConsistencyModels.Nn;
using ConsistencyModels.Presets;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Nn;

public class PresetKeyShapeTests
{
    /// <summary>All 12 released presets; the reference key list follows from the preset's name (the file it was released as).</summary>
    public static TheoryData<string> AllPresets => new(CheckpointPresets.All.Select(p => p.Name));

    [Fact]
    public void TheoryCoversAllTwelvePresets()
    {
        var names = ((IEnumerable<object[]>)AllPresets).Select(row => (string)row[0]).ToList();
        Assert.Equal(12, names.Distinct().Count());
        Assert.All(names, n => Assert.True(n.Contains("imagenet64") ^ (n.Contains("bedroom256") || n.Contains("cat256")), n));
    }

    [SkippableTheory]
    [MemberData(nameof(AllPresets))]
    public void PresetHasOfficialKeysShapesAndOrder(string preset)
    {
        // The official checkpoints exist in two architectures only: ImageNet-64 (class-conditional, 296M parameters)
        // and LSUN-256 (bedroom and cat, unconditional, 526M); EDM teachers, CD and CT share them (dropout has no weights).
        bool imagenet = preset.Contains("imagenet64");
        var (keysFile, parameters) = imagenet ? ("keys_imagenet64.txt", 295_899_267L) : ("keys_lsun256.txt", 526_304_771L);
        CheckPreset(preset, keysFile, parameters);
    }

    private static void CheckPreset(string preset, string keysFile, long parameters)
    {
        var path = ConsistencyModels.Tests.IO.FixturePaths.RequireReference(keysFile);
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
