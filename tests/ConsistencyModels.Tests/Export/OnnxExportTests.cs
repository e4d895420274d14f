// ONNX export: the exported denoiser run by ONNX Runtime against KarrasDenoiser.Denoise on libtorch (issue 20, part 1).
using ConsistencyModels.Diffusion;
using ConsistencyModels.Export;
using ConsistencyModels.Nn;
using ConsistencyModels.Presets;
using ConsistencyModels.Sampling;
using ConsistencyModels.Tests.Parity;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tensor = TorchSharp.torch.Tensor;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;
using DataType = Onnx.TensorProto.Types.DataType;

namespace ConsistencyModels.Tests.Export;

public sealed class OnnxExportTests(ITestOutputHelper output)
{
    // Every fp32 op of the graph follows the libtorch op order; what differs is the kernels (conv, matmul, sin/cos,
    // the instance-norm statistics). 1e-4 is the issue's bound for denoiser outputs of magnitude ~1.
    private const double Tolerance = 1e-4;

    /// <summary>Scale-shift norm, up/down resblocks, class embedding, attention by head channels.</summary>
    internal static readonly ModelConfig TinyConditional = new()
    {
        ImageSize = 16, NumChannels = 32, NumResBlocks = 1, ChannelMult = [1, 2], AttentionResolutions = [8],
        NumHeadChannels = 16, ClassCond = true, NumClasses = 10, UseScaleShiftNorm = true, ResblockUpdown = true,
    };

    /// <summary>Additive timestep embedding, conv down/upsampling, unconditional, attention by head count at two resolutions.</summary>
    internal static readonly ModelConfig TinyUnconditional = new()
    {
        ImageSize = 16, NumChannels = 32, NumResBlocks = 2, ChannelMult = [1, 2], AttentionResolutions = [16, 8],
        NumHeads = 2, UseScaleShiftNorm = false, ResblockUpdown = false,
    };

    [Theory]
    [InlineData(true, DenoiserKind.Edm, 17)]
    [InlineData(true, DenoiserKind.Consistency, 17)]
    [InlineData(false, DenoiserKind.Edm, 17)]
    [InlineData(false, DenoiserKind.Consistency, 17)]
    [InlineData(true, DenoiserKind.Consistency, 21)]
    public void TinyModelMatchesLibtorch(bool conditional, DenoiserKind kind, int opset)
    {
        var config = (conditional ? TinyConditional : TinyUnconditional) with { Denoiser = kind };
        using var model = RandomModel(config, seed: 7);
        double diff = CompareWithLibtorch(model, batch: 3, opset, seed: 11);
        output.WriteLine($"tiny {(conditional ? "conditional" : "unconditional")} {kind} opset {opset}: max |ONNX Runtime - libtorch| = {diff:G3}");
        Assert.True(diff <= Tolerance, $"max |diff| = {diff:G3} exceeds {Tolerance:G1}");
    }

    [SkippableTheory]
    [InlineData("imagenet64", DenoiserKind.Edm)]
    [InlineData("imagenet64", DenoiserKind.Consistency)]
    [InlineData("lsun256", DenoiserKind.Consistency)]
    public void FixtureTopologyMatchesLibtorch(string which, DenoiserKind kind)
    {
        var model = FixtureModels.Get(which, kind);       // the fixture weights: width 32, the released models' full topology
        double diff = CompareWithLibtorch(model, batch: which == "lsun256" ? 1 : 2, opset: 17, seed: 5);
        output.WriteLine($"{which} topology {kind}: max |ONNX Runtime - libtorch| = {diff:G3}");
        Assert.True(diff <= Tolerance, $"max |diff| = {diff:G3} exceeds {Tolerance:G1}");
    }

    [Fact]
    public void ExternalDataFileLoadsAndMatches()
    {
        using var model = RandomModel(TinyConditional with { Denoiser = DenoiserKind.Edm }, seed: 3);
        using var dir = new TempDir();
        var files = OnnxExport.Save(model, dir.File("tiny.onnx"), new OnnxExportOptions { ExternalData = true });
        Assert.Equal([dir.File("tiny.onnx"), dir.File("tiny.onnx.data")], files);
        Assert.True(new FileInfo(dir.File("tiny.onnx")).Length < 200_000, "the weights must be in the side file");
        double diff = CompareWithLibtorch(model, batch: 2, _ => new InferenceSession(dir.File("tiny.onnx")), seed: 4);
        output.WriteLine($"tiny, external data: max |ONNX Runtime - libtorch| = {diff:G3}");
        Assert.True(diff <= Tolerance, $"max |diff| = {diff:G3} exceeds {Tolerance:G1}");
    }

    [Fact]
    public void MetadataCarriesWhatARuntimeNeeds()
    {
        var config = TinyConditional with { Denoiser = DenoiserKind.Consistency };
        using var model = RandomModel(config, seed: 1);
        var options = new OnnxExportOptions
        {
            Sampling = new SamplingOptions { Sampler = SamplerKind.Multistep, Steps = 40, Ts = [0, 22, 39] },
            Generator = GeneratorKind.DetermIndiv,
            ClassNames = [.. Enumerable.Range(0, 10).Select(i => $"class {i}")],
        };
        using var session = new InferenceSession(OnnxExport.Build(model, options).ToByteArray());
        var m = session.ModelMetadata.CustomMetadataMap;
        Assert.Equal("16", m["image_size"]);
        Assert.Equal("3", m["in_channels"]);
        Assert.Equal("10", m["num_classes"]);
        Assert.Equal("0.002", m["sigma_min"]);
        Assert.Equal("80", m["sigma_max"]);
        Assert.Equal("0.5", m["sigma_data"]);
        Assert.Equal("consistency", m["denoiser"]);
        Assert.Equal("multistep", m["default_sampler"]);
        Assert.Equal("40", m["default_steps"]);
        Assert.Equal("0,22,39", m["default_ts"]);
        Assert.Equal("determ-indiv", m["default_generator"]);
        Assert.Equal("class 9", m["class_names"].Split('\n')[9]);
        Assert.Equal(config.ImageSize, ConsistencyModels.IO.ModelConfigJson.Parse(m["model_config"]).ImageSize);

        Assert.Equal(["x", "sigma", "class_labels"], session.InputMetadata.Keys);
        Assert.Equal([-1, 3, 16, 16], session.InputMetadata["x"].Dimensions);     // dynamic batch
        Assert.Equal(["denoised"], session.OutputMetadata.Keys);
    }

    // fp16: both sides round to float16 at every torso op, with different kernels (ONNX Runtime's CPU provider runs the
    // float16 nodes it lacks kernels for through float32 casts; libtorch's CPU fp16 kernels accumulate in float32).
    // The bound is a few float16 ulps of outputs of magnitude ~1; fp16 against fp32 is printed for scale.
    private const double Fp16Tolerance = 1e-2;

    [Theory]
    [InlineData(true, DenoiserKind.Edm)]
    [InlineData(true, DenoiserKind.Consistency)]
    [InlineData(false, DenoiserKind.Consistency)]
    public void Fp16ExportMatchesLibtorchFp16(bool conditional, DenoiserKind kind)
    {
        var config = (conditional ? TinyConditional : TinyUnconditional) with { Denoiser = kind };
        using var exported = RandomModel(config, seed: 7);
        using var half = RandomModel(config, seed: 7).ConvertTorso(ScalarType.Float16, channelsLast: false);   // the same weights, libtorch's fp16 path
        var proto = OnnxExport.Build(exported, new OnnxExportOptions { Precision = Precision.Fp16 });
        var torsoConv = proto.Graph.Initializer.Single(t => t.Name == "input_blocks.0.0.weight");
        var outConv = proto.Graph.Initializer.Single(t => t.Name == "out.2.weight");
        Assert.Equal((int)DataType.Float16, torsoConv.DataType);
        Assert.Equal((int)DataType.Float, outConv.DataType);                 // the out block stays float32, as the official fp16 UNet keeps it

        double diff = CompareWithLibtorch(half, batch: 3, _ => new InferenceSession(proto.ToByteArray()), seed: 11);
        double vsFp32 = CompareWithLibtorch(exported, batch: 3, _ => new InferenceSession(proto.ToByteArray()), seed: 11);
        output.WriteLine($"tiny {(conditional ? "conditional" : "unconditional")} {kind} fp16: max |ORT fp16 - libtorch fp16| = {diff:G3}; against libtorch fp32: {vsFp32:G3}");
        Assert.True(diff <= Fp16Tolerance, $"max |diff| = {diff:G3} exceeds {Fp16Tolerance:G1}");
        Assert.True(vsFp32 > 0, "an fp16 graph cannot equal fp32 exactly: the torso did not run in float16");
    }

    [Fact]
    public void Fp16ExportHalvesTheBuiltInModel()
    {
        using var pipeline = ConsistencyModels.Pipelines.ConsistencyPipeline.LoadBuiltIn();
        long fp32 = OnnxExport.Build(pipeline.Model).CalculateSize();
        var proto = OnnxExport.Build(pipeline.Model, new OnnxExportOptions { Precision = Precision.Fp16 });
        double ratio = (double)proto.CalculateSize() / fp32;
        output.WriteLine($"cd_fmnist32: fp32 {fp32 / 1e6:F2} MB, fp16 {proto.CalculateSize() / 1e6:F2} MB ({ratio:P0})");
        Assert.InRange(ratio, 0.5, 0.65);                 // the convolutions (about 80% of the bytes) halve; embeddings, norms, the out block stay float32
        Assert.Equal("fp16", proto.MetadataProps.Single(m => m.Key == "precision").Value);
    }

    [Fact]
    public void Bf16ExportIsOneClearError()
    {
        using var model = RandomModel(TinyUnconditional, seed: 1);
        var e = Assert.Throws<ArgumentException>(() => OnnxExport.Build(model, new OnnxExportOptions { Precision = Precision.Bf16 }));
        Assert.Contains("`Precision` must be Fp32 or Fp16", e.Message);
    }

    [Fact]
    public void BadOpsetIsOneClearError()
    {
        using var model = RandomModel(TinyUnconditional, seed: 1);
        var e = Assert.Throws<ArgumentException>(() => OnnxExport.Build(model, new OnnxExportOptions { Opset = 11 }));
        Assert.Contains("`Opset` must be between 13 and 21", e.Message);
    }

    /// <summary>Exports <paramref name="model"/>, runs both on the same x, σ (from σ_min to σ_max) and labels; returns max |diff|.</summary>
    private static double CompareWithLibtorch(UNetModel model, int batch, int opset, int seed) =>
        CompareWithLibtorch(model, batch, m => new InferenceSession(OnnxExport.Build(m, new OnnxExportOptions { Opset = opset }).ToByteArray()), seed);

    private static double CompareWithLibtorch(UNetModel model, int batch, Func<UNetModel, InferenceSession> export, int seed)
    {
        var config = model.Config;
        using var scope = NewDisposeScope();
        var gen = new TorchSharp.torch.Generator((ulong)seed);
        var x = randn([batch, config.InChannels, config.ImageSize, config.ImageSize], generator: gen) * 2;
        double[] levels = [config.SigmaMax, 0.7, config.SigmaMin, 5.0, 0.05];   // σ_max first: at σ_min a consistency model returns x exactly
        var sigma = tensor(levels.Take(batch).Select(v => (float)v).ToArray());
        var labels = config.ResolvedNumClasses is int k ? tensor(Enumerable.Range(0, batch).Select(i => (long)((i * 7 + 3) % k)).ToArray()) : null;

        Tensor expected;
        using (no_grad())
            (_, expected) = KarrasDenoiser.FromConfig(config).Denoise((xi, t, y) => model.forward(xi, t, y), x, sigma, labels);

        using var session = export(model);
        var inputs = new List<NamedOnnxValue>
        {
            NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x.data<float>().ToArray(), [.. x.shape.Select(d => (int)d)])),
            NamedOnnxValue.CreateFromTensor("sigma", new DenseTensor<float>(sigma.data<float>().ToArray(), [batch])),
        };
        if (labels is not null) inputs.Add(NamedOnnxValue.CreateFromTensor("class_labels", new DenseTensor<long>(labels.data<long>().ToArray(), [batch])));
        using var results = session.Run(inputs);
        var actual = results.Single(r => r.Name == "denoised").AsTensor<float>().ToArray();
        var reference = expected.data<float>().ToArray();
        Assert.Equal(reference.Length, actual.Length);
        return reference.Zip(actual, (e, a) => Math.Abs((double)e - a)).Max();
    }

    /// <summary>A model with every parameter random (the zero-initialised output convs included, so every block counts).</summary>
    internal static UNetModel RandomModel(ModelConfig config, int seed)
    {
        var model = new UNetModel(config, META);
        var gen = new TorchSharp.torch.Generator((ulong)seed);
        var state = new Dictionary<string, Tensor>();
        foreach (var (key, meta) in model.state_dict())
        {
            var t = randn(meta.shape, generator: gen);
            if (meta.dim() >= 2 && key != "label_emb.weight") t = t / Math.Sqrt(meta.shape.Skip(1).Aggregate(1L, (a, b) => a * b));
            else if (key.EndsWith(".weight") && meta.dim() == 1) t = t * 0.1 + 1;        // GroupNorm scale
            else if (meta.dim() == 1) t = t * 0.1;                                        // biases
            state[key] = t;
        }
        ModelWeights.Materialize(model, state, "random");
        model.eval();
        return model;
    }
}
