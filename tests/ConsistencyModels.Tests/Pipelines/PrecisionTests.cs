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
    private static (ConsistencyPipeline, GenerationRequest) Load(Precision precision, bool channelsLast)
    {
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

    [SkippableFact]
    public void ChannelsLastFp32MatchesTheOfficialOutput()
    {
        var (pipeline, request) = Load(Precision.Fp32, channelsLast: true);
        var expected = ConsistencyModels.IO.Numpy.Npz.Read(FixturePaths.Require("e2e/e2e_im64_onestep_determ.npz"));
        EndToEndTests.AssertImagesMatch(expected["arr_0"].Data, pipeline.Generate(request).Images, "fp32 channels-last");
    }

    [SkippableFact]
    public void Bf16ImagesStayCloseToFp32()
    {
        var fp32 = Load(Precision.Fp32, channelsLast: false);
        var bf16 = Load(Precision.Bf16, channelsLast: true);
        var a = fp32.Item1.Generate(fp32.Item2).Images;
        var b = bf16.Item1.Generate(bf16.Item2).Images;
        int max = 0; long sum = 0;
        for (int i = 0; i < a.Length; i++) { int d = Math.Abs(a[i] - b[i]); max = Math.Max(max, d); sum += d; }
        // bf16 has 8 mantissa bits: a few levels on some pixels, well under one level on average.
        Assert.True(max <= 16 && (double)sum / a.Length < 1.0, $"bf16 vs fp32: max {max}, mean {(double)sum / a.Length:F3} levels");
        Assert.True(sum > 0, "bf16 path produced bit-identical images: it probably did not run in bf16");
    }

    [SkippableFact]
    public void Fp16CheckpointLoadsAsFp32Weights()
    {
        var config = ConsistencyModels.IO.ModelConfigJson.Load(FixturePaths.Require("e2e/config_imagenet64_w32_consistency.json"));
        var sd = ConsistencyModels.IO.Checkpoints.TorchCheckpoint.LoadStateDict(FixturePaths.Require("model_imagenet64_topology.pt"));
        using var tmp = new TempDir();
        var path = tmp.File("fp16.pt");
        ConsistencyModels.IO.Checkpoints.TorchCheckpoint.Save(path, sd.Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.to(ScalarType.Float16))));
        using var pipeline = ConsistencyPipeline.Load(config, path, channelsLast: false);
        var loaded = pipeline.Model.state_dict();
        Assert.All(loaded.Values, t => Assert.Equal(ScalarType.Float32, t.dtype));
        var key = "input_blocks.5.1.qkv.weight";
        using var expected = sd[key].to(ScalarType.Float16).to(ScalarType.Float32);
        Assert.Equal(0.0, Close.MaxAbsDiff(expected, loaded[key]));               // fp16 values, widened exactly
        // The images stay near the official fp32 ones: weights rounded to fp16 (11-bit mantissa) move them less than
        // the bf16 path (8 bits, weights and activations) may, so the same bound holds.
        var official = ConsistencyModels.IO.Numpy.Npz.Read(FixturePaths.Require("e2e/e2e_im64_onestep_determ.npz"))["arr_0"].Data;
        var images = pipeline.Generate(new GenerationRequest { NumSamples = 4, BatchSize = 4, Seed = 42, ClassLabels = [3, 917, 0, 999] }).Images;
        Assert.Equal(official.Length, images.Length);
        int max = 0; long sum = 0;
        for (int i = 0; i < images.Length; i++) { int d = Math.Abs(official[i] - images[i]); max = Math.Max(max, d); sum += d; }
        Assert.True(max <= 16 && (double)sum / images.Length < 1.0, $"fp16 weights vs official fp32: max {max}, mean {(double)sum / images.Length:F3} levels");
    }
}
