// The JSON model config: official flag names, string or array lists, clear errors.
using ConsistencyModels.IO;
using ConsistencyModels.Nn;
using Xunit;

namespace ConsistencyModels.Tests.Nn;

public class ModelConfigJsonTests
{
    [Fact]
    public void AcceptsOfficialStringsAndArrays()
    {
        var a = ModelConfigJson.Parse("""{"image_size": 64, "num_channels": 192, "num_res_blocks": 3, "channel_mult": "", "attention_resolutions": "32,16,8", "num_head_channels": 64, "class_cond": true, "use_scale_shift_norm": true, "resblock_updown": true, "use_fp16": true, "training_mode": "consistency_distillation"}""");
        Assert.Equal([1, 2, 3, 4], a.ResolvedChannelMult);
        Assert.Equal([32, 16, 8], a.AttentionResolutions);
        Assert.Equal(DenoiserKind.Consistency, a.Denoiser);
        Assert.Equal(1000, a.ResolvedNumClasses);
        var b = ModelConfigJson.Parse("""{"image_size": 256, "channel_mult": [1,1,2,2,4,4], "attention_resolutions": [32,16,8], "class_cond": false, "num_classes": null, "denoiser": "edm"}""");
        Assert.Equal(DenoiserKind.Edm, b.Denoiser);
        Assert.Null(b.ResolvedNumClasses);
        var roundTrip = ModelConfigJson.Parse(ModelConfigJson.ToJson(a));
        Assert.Equal(ModelConfigJson.ToJson(a), ModelConfigJson.ToJson(roundTrip));
    }

    [Theory]
    [InlineData("""{"image_size": 64, "denoiser": "edm", "num_chanels": 32}""", "unknown model config key 'num_chanels'")]
    [InlineData("""{"image_size": 64}""", "denoiser")]
    [InlineData("""{"image_size": 64, "denoiser": "foo"}""", "\"edm\" or \"consistency\"")]
    [InlineData("""{"image_size": 64, "denoiser": "edm", "attention_resolutions": "32,x"}""", "attention_resolutions")]
    [InlineData("""{"image_size": 60, "denoiser": "edm", "channel_mult": [1,2,3,4]}""", "not divisible")]
    [InlineData("""not json""", "not valid JSON")]
    [InlineData("""{"image_size": 64, "denoiser": "edm", "class_cond": true, "num_classes": 2e9}""", "num_classes must be at most 1000000 (got 2000000000")]
    [InlineData("""{"image_size": 64, "denoiser": "edm", "class_cond": true, "num_classes": 3e10}""", "num_classes must be an integer")]
    public void BadConfigsAreRefusedWithTheFlagName(string json, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => ModelConfigJson.Parse(json));
        Assert.Contains(expected, e.Message);
    }

    [SkippableFact]
    public void FixtureConfigsParse()
    {
        var files = Directory.GetFiles(Path.Combine(Requirements.FixtureDir(), "e2e"), "config_*.json");
        Assert.Equal(3, files.Length);
        foreach (var f in files)
            Assert.Equal(32, ModelConfigJson.Load(f).NumChannels);
    }
}
