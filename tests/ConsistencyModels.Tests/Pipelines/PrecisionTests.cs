// Reduced precision and memory layout: same keys, fp32 where the official fp16 recipe keeps fp32, close images.
using ConsistencyModels.Nn;
using ConsistencyModels.Pipelines;
using ConsistencyModels.Sampling;
using ConsistencyModels.Tests.IO;
using ConsistencyModels.Tests.Parity;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Pipelines;

public class PrecisionTests
{
    private static (ConsistencyPipeline, GenerationRequest)? Load(Precision precision, bool channelsLast)
    {
        if (FixturePaths.Unavailable()) return null;
        var config = ConsistencyModels.IO.ModelConfigJson.Load(FixturePaths.Require("e2e/config_imagenet64_w32_consistency.json"));
        var pipeline = ConsistencyPipeline.Load(config, FixturePaths.Require("model_imagenet64_topology.pt"), precision: precision, channelsLast: channelsLast);
        var request = new GenerationRequest { NumSamples = 4, BatchSize = 4, Seed = 42, ClassLabels = [3, 917, 0, 999] };
        return (pipeline, request);
    }

    [Fact]
    public void ConvertTorsoKeepsKeysAndTheOfficialFp32Parts()
    {
        var model = new UNetModel(ConsistencyModels.Presets.CheckpointPresets.ImageNet64(DenoiserKind.Consistency), META);
        var before = model.state_dict().Keys.ToList();
        model.ConvertTorso(ScalarType.BFloat16, channelsLast: true);
        var after = model.state_dict();
        Assert.Equal(before, after.Keys.ToList());
        Assert.Equal(ScalarType.BFloat16, after["input_blocks.1.0.in_layers.2.weight"].dtype);
        Assert.Equal(ScalarType.BFloat16, after["middle_block.1.qkv.weight"].dtype);
        Assert.Equal(ScalarType.Float32, after["input_blocks.1.0.in_layers.0.weight"].dtype);   // GroupNorm
        Assert.Equal(ScalarType.Float32, after["input_blocks.1.0.emb_layers.1.weight"].dtype);  // Linear
        Assert.Equal(ScalarType.Float32, after["time_embed.0.weight"].dtype);
        Assert.Equal(ScalarType.Float32, after["label_emb.weight"].dtype);
        Assert.Equal(ScalarType.Float32, after["out.2.weight"].dtype);                           // final block
        Assert.True(MemoryLayout.IsChannelsLast(after["input_blocks.1.0.in_layers.2.weight"]));
    }

    [Fact]
    public void ChannelsLastFp32MatchesTheOfficialOutput()
    {
        var loaded = Load(Precision.Fp32, channelsLast: true);
        if (loaded is null) return;
        var (pipeline, request) = loaded.Value;
        var expected = ConsistencyModels.IO.Numpy.Npz.Read(FixturePaths.Require("e2e/e2e_im64_onestep_determ.npz"));
        EndToEndTests.AssertImagesMatch(expected["arr_0"].Data, pipeline.Generate(request).Images, "fp32 channels-last");
    }

    [Fact]
    public void Bf16ImagesStayCloseToFp32()
    {
        var fp32 = Load(Precision.Fp32, channelsLast: false);
        var bf16 = Load(Precision.Bf16, channelsLast: true);
        if (fp32 is null || bf16 is null) return;
        var a = fp32.Value.Item1.Generate(fp32.Value.Item2).Images;
        var b = bf16.Value.Item1.Generate(bf16.Value.Item2).Images;
        int max = 0; long sum = 0;
        for (int i = 0; i < a.Length; i++) { int d = Math.Abs(a[i] - b[i]); max = Math.Max(max, d); sum += d; }
        // bf16 has 8 mantissa bits: a few levels on some pixels, well under one level on average.
        Assert.True(max <= 16 && (double)sum / a.Length < 1.0, $"bf16 vs fp32: max {max}, mean {(double)sum / a.Length:F3} levels");
        Assert.True(sum > 0, "bf16 path produced bit-identical images: it probably did not run in bf16");
    }

    [Fact]
    public void Fp16CheckpointLoadsAsFp32Weights()
    {
        if (FixturePaths.Unavailable()) return;
        var config = ConsistencyModels.IO.ModelConfigJson.Load(FixturePaths.Require("e2e/config_imagenet64_w32_consistency.json"));
        var sd = ConsistencyModels.IO.Checkpoints.TorchCheckpoint.LoadStateDict(FixturePaths.Require("model_imagenet64_topology.pt"));
        var path = Path.Combine(Path.GetTempPath(), $"cm-fp16-{Guid.NewGuid():N}.pt");
        try
        {
            ConsistencyModels.IO.Checkpoints.TorchCheckpoint.Save(path, sd.Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.to(ScalarType.Float16))));
            using var pipeline = ConsistencyPipeline.Load(config, path, channelsLast: false);
            var loaded = pipeline.Model.state_dict();
            Assert.All(loaded.Values, t => Assert.Equal(ScalarType.Float32, t.dtype));
            var key = "input_blocks.5.1.qkv.weight";
            using var expected = sd[key].to(ScalarType.Float16).to(ScalarType.Float32);
            Assert.Equal(0.0, Close.MaxAbsDiff(expected, loaded[key]));               // fp16 values, widened exactly
            Assert.Equal(4 * 64 * 64 * 3, pipeline.Generate(new GenerationRequest { NumSamples = 4, BatchSize = 4, ClassLabels = [1] }).Images.Length);
        }
        finally { File.Delete(path); }
    }
}
