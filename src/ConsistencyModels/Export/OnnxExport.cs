// The whole denoiser D(x, σ, y) as one ONNX graph — cm/karras_diffusion.py::KarrasDenoiser.denoise around cm/unet.py::UNetModel,
// op for op as the TorchSharp modules of Nn/ compute it (GroupNorm decomposed so that opset 17 suffices).
using System.Globalization;
using ConsistencyModels.Diffusion;
using ConsistencyModels.IO;
using ConsistencyModels.Nn;
using ConsistencyModels.Sampling;
using Google.Protobuf;
using Onnx;
using Conv2d = TorchSharp.Modules.Conv2d;
using Sequential = TorchSharp.Modules.Sequential;
using Upsample = ConsistencyModels.Nn.Upsample;
using Downsample = ConsistencyModels.Nn.Downsample;
using TorchSharp.Modules;
using static TorchSharp.torch;
using DataType = Onnx.TensorProto.Types.DataType;

namespace ConsistencyModels.Export;

/// <summary>What an exported file carries besides the network (all optional but <see cref="Opset"/>).</summary>
public sealed record OnnxExportOptions
{
    /// <summary>The ai.onnx opset the graph declares (13 to 21; 17 is what most runtimes take).</summary>
    public int Opset { get; init; } = 17;
    /// <summary>The model's default sampling (sampler, steps, ts), written to the metadata for runtimes to use.</summary>
    public SamplingOptions? Sampling { get; init; }
    /// <summary>The model's default noise generator, written to the metadata.</summary>
    public GeneratorKind? Generator { get; init; }
    /// <summary>Names of the class labels, written to the metadata one per line.</summary>
    public IReadOnlyList<string>? ClassNames { get; init; }
    /// <summary>The model's display name (graph name and metadata).</summary>
    public string Name { get; init; } = "consistency_model";
    /// <summary>Weights in a side file <c>NAME.onnx.data</c> (ONNX external data): null = only where one file would pass
    /// protobuf's 2 GB limit (the 256 px models), true = always, false = never (an error past 2 GB).</summary>
    public bool? ExternalData { get; init; }
    /// <summary>Fp32 (default) or Fp16: the official fp16 split (guided-diffusion's <c>convert_to_fp16</c>, our
    /// <see cref="Nn.Precision.Fp16"/>): the convolutions of input/middle/output blocks and their activations in float16,
    /// GroupNorm statistics and affine, softmax, the embeddings, the out block and the scalings in float32. Inputs and
    /// output stay float32. Half the file; what it buys in speed depends on the runtime (GPUs; ONNX Runtime's CPU
    /// provider runs float16 nodes it lacks kernels for through casts).</summary>
    public Precision Precision { get; init; } = Precision.Fp32;
}

/// <summary>
/// Exports a <see cref="UNetModel"/> with its <see cref="KarrasDenoiser"/> scalings as D(x, σ[, class_labels]) -> denoised:
/// inputs <c>x</c> float32 [batch, C, H, W], <c>sigma</c> float32 [batch], <c>class_labels</c> int64 [batch] (class-conditional
/// models only); output <c>denoised</c> float32 [batch, C, H, W], not clamped (the samplers clamp to [-1, 1]).
/// Weights are initializers named by their state_dict keys: float32, or float16 for the torso's convolutions of an
/// fp16 export (<see cref="OnnxExportOptions.Precision"/>).
/// </summary>
public static class OnnxExport
{
    public const int MinOpset = 13, MaxOpset = 21;

    /// <summary>The metadata_props key of each fact the file carries (see docs/onnx.md).</summary>
    public static class Keys
    {
        public const string FormatVersion = "cm.format_version", ImageSize = "image_size", InChannels = "in_channels",
            NumClasses = "num_classes", SigmaMin = "sigma_min", SigmaMax = "sigma_max", SigmaData = "sigma_data", Rho = "rho",
            Denoiser = "denoiser", DefaultSampler = "default_sampler", DefaultSteps = "default_steps", DefaultTs = "default_ts",
            DefaultSigmas = "default_sigmas", DefaultGenerator = "default_generator", ClassNames = "class_names",
            ModelConfig = "model_config", Clamp = "clip_denoised", Precision = "precision";
    }

    // protobuf refuses to write a message of 2 GB or more (the graph itself needs a little room too).
    private const long MaxInlineBytes = int.MaxValue - (64L << 20);

    /// <summary>
    /// Writes the ONNX file atomically and, with external data (see <see cref="OnnxExportOptions.ExternalData"/>), the
    /// weights to <c>{path}.data</c> beside it first. Returns the files written.
    /// </summary>
    public static IReadOnlyList<string> Save(UNetModel model, string path, OnnxExportOptions? options = null)
    {
        options ??= new OnnxExportOptions();
        var proto = BuildUnchecked(model, options, out long weightBytes);
        bool external = options.ExternalData ?? weightBytes > MaxInlineBytes;
        if (!external) CheckInlineSize(weightBytes);
        var written = new List<string>();
        if (external)
        {
            string dataPath = path + ".data";
            AtomicFile.Write(dataPath, stream => MoveToExternalData(proto.Graph, Path.GetFileName(dataPath), stream));
            written.Add(dataPath);
        }
        AtomicFile.Write(path, stream => proto.WriteTo(stream));
        written.Insert(0, path);
        return written;
    }

    // Initializers above this size go to the side file; the small constants (shapes, scalars) stay inline.
    private const int ExternalMinBytes = 1024;

    /// <summary>Streams each large initializer's bytes to <paramref name="data"/> (4 KiB-aligned, so runtimes may map them) and points the tensor at them.</summary>
    private static void MoveToExternalData(GraphProto graph, string location, Stream data)
    {
        long offset = 0;
        foreach (var t in graph.Initializer)
        {
            if (t.RawData.Length < ExternalMinBytes) continue;
            long aligned = (offset + 4095) / 4096 * 4096;
            if (aligned > offset) { data.Write(new byte[aligned - offset]); offset = aligned; }
            t.RawData.WriteTo(data);
            t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
            t.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(CultureInfo.InvariantCulture) });
            t.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = t.RawData.Length.ToString(CultureInfo.InvariantCulture) });
            t.DataLocation = TensorProto.Types.DataLocation.External;
            offset += t.RawData.Length;
            t.RawData = ByteString.Empty;
        }
    }

    private static void CheckInlineSize(long weightBytes)
    {
        if (weightBytes > MaxInlineBytes)
            throw new NotSupportedException($"the weights ({weightBytes / 1e9:F2} GB) pass protobuf's 2 GB limit for one ONNX file: export with `ExternalData`");
    }

    /// <summary>Builds the ONNX model in memory with its weights inline (float32); for files past 2 GB use <see cref="Save"/>.</summary>
    public static ModelProto Build(UNetModel model, OnnxExportOptions? options = null)
    {
        var proto = BuildUnchecked(model, options ?? new OnnxExportOptions(), out long weightBytes);
        CheckInlineSize(weightBytes);
        return proto;
    }

    private static ModelProto BuildUnchecked(UNetModel model, OnnxExportOptions options, out long weightBytes)
    {
        if (options.Opset is < MinOpset or > MaxOpset)
            throw new ArgumentException($"`Opset` must be between {MinOpset} and {MaxOpset} (got {options.Opset})");
        var config = model.Config;
        if (options.Precision is not (Precision.Fp32 or Precision.Fp16))
            throw new ArgumentException($"`Precision` must be Fp32 or Fp16 for ONNX export (got {options.Precision}): ONNX runtimes' bfloat16 kernels are few");
        if (config.NumChannels % 2 != 0)
            throw new ArgumentException($"ONNX export needs an even `NumChannels` for the timestep embedding (got {config.NumChannels})");
        var denoiser = KarrasDenoiser.FromConfig(config);

        using var _ = no_grad();
        var graph = new OnnxGraph(options.Name);
        var weights = new Weights(graph, model.state_dict());
        bool conditional = config.ResolvedNumClasses is not null;
        int n = config.ImageSize, c = config.InChannels;

        graph.Proto.Input.Add(OnnxGraph.Value("x", DataType.Float, "batch", c, n, n));
        graph.Proto.Input.Add(OnnxGraph.Value("sigma", DataType.Float, "batch"));
        if (conditional) graph.Proto.Input.Add(OnnxGraph.Value("class_labels", DataType.Int64, "batch"));

        var (cSkip, cOut, cIn, cNoise) = Scalings(graph, denoiser, "sigma");
        var scaled = graph.Op("Mul", ["x", cIn], "precond");
        var f = new UNetExporter(graph, weights, model, options.Precision == Precision.Fp16).Forward(scaled, cNoise, conditional ? "class_labels" : null);
        var skipPart = graph.Op("Mul", [cSkip, "x"], "precond");
        var outPart = graph.Op("Mul", [cOut, f], "precond");
        graph.Proto.Node.Add(new NodeProto { OpType = "Add", Name = "precond/denoised", Input = { outPart, skipPart }, Output = { "denoised" } });
        graph.Proto.Output.Add(OnnxGraph.Value("denoised", DataType.Float, "batch", c, n, n));

        weightBytes = graph.InitializerBytes;
        var proto = new ModelProto
        {
            IrVersion = IrVersionFor(options.Opset),
            ProducerName = "ConsistencyModels",
            ProducerVersion = typeof(OnnxExport).Assembly.GetName().Version?.ToString() ?? "",
            DocString = "D(x, sigma[, class_labels]) -> denoised: the UNet with its Karras preconditioning (c_in, c_noise, c_skip, c_out)",
            Graph = graph.Proto,
        };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = options.Opset });
        foreach (var (key, value) in Metadata(config, options))
            proto.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return proto;
    }

    // The IR version that introduced each opset (onnx/docs/Versioning.md): runtimes check the pair.
    private static long IrVersionFor(int opset) => opset switch { <= 18 => 8, <= 20 => 9, _ => 10 };

    /// <summary>The metadata_props an exported file carries: everything a runtime needs to sample without the library.</summary>
    public static IReadOnlyList<(string Key, string Value)> Metadata(ModelConfig config, OnnxExportOptions options)
    {
        static string D(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        var m = new List<(string, string)>
        {
            (Keys.FormatVersion, "1"),
            (Keys.ImageSize, config.ImageSize.ToString(CultureInfo.InvariantCulture)),
            (Keys.InChannels, config.InChannels.ToString(CultureInfo.InvariantCulture)),
            (Keys.NumClasses, (config.ResolvedNumClasses ?? 0).ToString(CultureInfo.InvariantCulture)),
            (Keys.SigmaMin, D(config.SigmaMin)), (Keys.SigmaMax, D(config.SigmaMax)), (Keys.SigmaData, D(config.SigmaData)), (Keys.Rho, D(config.Rho)),
            (Keys.Denoiser, config.Denoiser == DenoiserKind.Edm ? "edm" : "consistency"),
            (Keys.Clamp, "true"),
            (Keys.Precision, options.Precision == Precision.Fp16 ? "fp16" : "fp32"),
            (Keys.ModelConfig, ModelConfigJson.ToJson(config, indented: false)),
        };
        if (options.Sampling is { } s)
        {
            m.Add((Keys.DefaultSampler, s.Sampler.ToString().ToLowerInvariant()));
            m.Add((Keys.DefaultSteps, s.Steps.ToString(CultureInfo.InvariantCulture)));
            if (s.Ts is { } ts) m.Add((Keys.DefaultTs, string.Join(",", ts)));
            if (s.Sigmas is { } sigmas) m.Add((Keys.DefaultSigmas, string.Join(",", sigmas.Select(D))));
        }
        if (options.Generator is { } g)
            m.Add((Keys.DefaultGenerator, g switch { GeneratorKind.Determ => "determ", GeneratorKind.DetermIndiv => "determ-indiv", _ => "dummy" }));
        if (options.ClassNames is { Count: > 0 } names) m.Add((Keys.ClassNames, string.Join("\n", names)));
        return m;
    }

    /// <summary>c_skip, c_out, c_in as [batch, 1, 1, 1] and c_noise = 250·ln(σ + 1e-44) as [batch], in KarrasDenoiser's op order.</summary>
    private static (string cSkip, string cOut, string cIn, string cNoise) Scalings(OnnxGraph g, KarrasDenoiser d, string sigma)
    {
        const string H = "precond";
        float sd = (float)d.SigmaData, sd2 = (float)(d.SigmaData * d.SigmaData);
        var denom = g.Op("Add", [g.Op("Mul", [sigma, sigma], H), g.Scalar(sd2)], H);        // σ² + σ_d²
        var root = g.Op("Sqrt", [denom], H);
        string cSkip, cOut;
        if (d.Kind == DenoiserKind.Consistency)
        {
            var shifted = g.Op("Sub", [sigma, g.Scalar((float)d.SigmaMin)], H);
            var shiftedDenom = g.Op("Add", [g.Op("Mul", [shifted, shifted], H), g.Scalar(sd2)], H);
            cSkip = g.Op("Mul", [g.Op("Reciprocal", [shiftedDenom], H), g.Scalar(sd2)], H);
            cOut = g.Op("Div", [g.Op("Mul", [shifted, g.Scalar(sd)], H), root], H);
        }
        else
        {
            cSkip = g.Op("Mul", [g.Op("Reciprocal", [denom], H), g.Scalar(sd2)], H);
            cOut = g.Op("Div", [g.Op("Mul", [sigma, g.Scalar(sd)], H), root], H);
        }
        var cIn = g.Op("Reciprocal", [root], H);
        var cNoise = g.Op("Mul", [g.Op("Log", [g.Op("Add", [sigma, g.Scalar(1e-44f)], H)], H), g.Scalar(250f)], H);
        var column = g.Int64s(-1, 1, 1, 1);
        return (g.Op("Reshape", [cSkip, column], H), g.Op("Reshape", [cOut, column], H), g.Op("Reshape", [cIn, column], H), cNoise);
    }

    /// <summary>The model's tensors by state_dict key, added to the graph as float32 initializers on first use.</summary>
    private sealed class Weights(OnnxGraph graph, IReadOnlyDictionary<string, Tensor> stateDict)
    {
        private readonly HashSet<string> _added = [];

        public bool Has(string key) => stateDict.ContainsKey(key);

        public long[] Shape(string key) => stateDict.TryGetValue(key, out var t) ? t.shape
            : throw new InvalidOperationException($"ONNX export: the model has no tensor '{key}'");

        public string this[string key]
        {
            get
            {
                if (_added.Contains(key)) return key;
                if (!stateDict.TryGetValue(key, out var t)) throw new InvalidOperationException($"ONNX export: the model has no tensor '{key}'");
                using var cpu = t.detach().to(ScalarType.Float32).cpu().contiguous();
                graph.Initializer(key, cpu.data<float>().ToArray(), cpu.shape);
                _added.Add(key);
                return key;
            }
        }

        /// <summary>The tensor as a float16 initializer (the fp16 torso's convolutions); a key is either float32 or float16, never both.</summary>
        public string Half(string key)
        {
            if (_added.Contains(key)) return key;
            if (!stateDict.TryGetValue(key, out var t)) throw new InvalidOperationException($"ONNX export: the model has no tensor '{key}'");
            using var cpu = t.detach().to(ScalarType.Float16).cpu().contiguous();
            graph.Initializer(key, cpu.data<System.Half>().ToArray(), cpu.shape);
            _added.Add(key);
            return key;
        }

        /// <summary>A tensor reshaped at export time (e.g. a GroupNorm affine as [C, 1, 1]), under a derived name.</summary>
        public string Reshaped(string key, long[] shape)
        {
            string name = key + ":" + string.Join("x", shape);
            if (_added.Contains(name)) return name;
            using var cpu = stateDict[key].detach().to(ScalarType.Float32).cpu().contiguous().reshape(shape);
            graph.Initializer(name, cpu.data<float>().ToArray(), shape);
            _added.Add(name);
            return name;
        }
    }

    /// <summary>UNetModel.Forward as graph nodes, walking the model's own module tree (so the layout cannot drift from it).</summary>
    private sealed class UNetExporter(OnnxGraph g, Weights w, UNetModel model, bool fp16)
    {
        private const long Float = (long)DataType.Float, Float16 = (long)DataType.Float16;

        // The torso's activation type: float16 in an fp16 export (UNetModel.Forward: h = x.to(TorsoDtype)).
        private string ToTorso(string x, string hint) => fp16 ? g.Op("Cast", [x], hint, ("to", Float16)) : x;
        private string ToFloat(string x, string hint) => fp16 ? g.Op("Cast", [x], hint, ("to", Float)) : x;
        private string TorsoScalar(float v) => fp16 ? g.Half(v) : g.Scalar(v);

        public string Forward(string x, string cNoise, string? labels)
        {
            var children = model.named_children().ToDictionary(p => p.name, p => p.module);
            var emb = TimeEmbedding(cNoise);
            if (labels is not null)
                emb = g.Op("Add", [emb, g.Op("Gather", [w["label_emb.weight"], labels], "label_emb", ("axis", 0L))], "label_emb");

            var hs = new List<string>();
            var h = ToTorso(x, "input_blocks");
            var input = (ModuleList<TimestepEmbedSequential>)children["input_blocks"];
            for (int i = 0; i < input.Count; i++) hs.Add(h = Sequential(input[i], $"input_blocks.{i}", h, emb));
            h = Sequential((TimestepEmbedSequential)children["middle_block"], "middle_block", h, emb);
            var output = (ModuleList<TimestepEmbedSequential>)children["output_blocks"];
            for (int i = 0; i < output.Count; i++)
            {
                var skip = hs[^1];
                hs.RemoveAt(hs.Count - 1);
                h = Sequential(output[i], $"output_blocks.{i}", g.Op("Concat", [h, skip], $"output_blocks.{i}", ("axis", 1L)), emb);
            }
            var outNorm = (GroupNorm32)((Sequential)children["out"]).named_children().First().module;
            h = ToFloat(h, "out");                                                     // h.to(x.dtype): the out block in float32
            return Conv(SiLU(GroupNorm(h, "out.0", outNorm, torso: false), "out"), "out.2");
        }

        private string TimeEmbedding(string cNoise)
        {
            const string H = "time_embed";
            int half = model.Config.NumChannels / 2;
            // The same float32 ops as TimestepEmbedding.Compute, evaluated here once: exp(-ln(10000)·arange(half)/half).
            using var freqs = exp(arange(0, half, dtype: ScalarType.Float32) * (-Math.Log(10000)) / half);
            var freqName = g.Initializer("time_embed.freqs", freqs.data<float>().ToArray(), [1, half]);
            var args = g.Op("Mul", [g.Op("Reshape", [cNoise, g.Int64s(-1, 1)], H), freqName], H);
            var sinusoid = g.Op("Concat", [g.Op("Cos", [args], H), g.Op("Sin", [args], H)], H, ("axis", 1L));
            var hidden = SiLU(Linear(sinusoid, "time_embed.0"), H);
            return Linear(hidden, "time_embed.2");
        }

        private string Sequential(TimestepEmbedSequential block, string prefix, string h, string emb)
        {
            for (int i = 0; i < block.Layers.Count; i++)
            {
                string p = $"{prefix}.{i}";
                h = block.Layers[i] switch
                {
                    ResBlock r => ResBlock(r, p, h, emb),
                    AttentionBlock a => Attention(a, p, h),
                    Downsample d => d.HasConv ? Conv(h, $"{p}.op", stride: 2) : AvgPool(h, p),
                    Upsample u => u.HasConv ? Conv(Upsample(h, p), $"{p}.conv") : Upsample(h, p),
                    Conv2d => Conv(h, p),
                    var other => throw new NotSupportedException($"ONNX export: no mapping for the layer {other.GetType().Name} at {p}"),
                };
            }
            return h;
        }

        private string ResBlock(ResBlock r, string p, string x, string emb)
        {
            var norms = r.named_modules().Where(m => m.module is GroupNorm32).ToDictionary(m => m.name, m => (GroupNorm32)m.module);
            var a = SiLU(GroupNorm(x, $"{p}.in_layers.0", norms["in_layers.0"]), p);
            if (r.Up) { a = Upsample(a, p); x = Upsample(x, p); }
            else if (r.Down) { a = AvgPool(a, p); x = AvgPool(x, p); }
            var h = Conv(a, $"{p}.in_layers.2");
            var e = ToTorso(g.Op("Reshape", [Linear(SiLU(emb, p), $"{p}.emb_layers.1"), g.Int64s(0, -1, 1, 1)], p), p);   // [N, C(x2), 1, 1], torso dtype
            string pre;
            if (r.UseScaleShiftNorm)
            {
                long ch = w.Shape($"{p}.out_layers.3.weight")[0];
                var parts = g.Ops("Split", [e, g.Int64s(ch, ch)], 2, p, ("axis", 1L));              // scale first, then shift
                var normed = GroupNorm(h, $"{p}.out_layers.0", norms["out_layers.0"]);
                pre = g.Op("Add", [g.Op("Mul", [normed, g.Op("Add", [parts[0], TorsoScalar(1f)], p)], p), parts[1]], p);
            }
            else pre = GroupNorm(g.Op("Add", [h, e], p), $"{p}.out_layers.0", norms["out_layers.0"]);
            h = Conv(SiLU(pre, p), $"{p}.out_layers.3");
            var skip = w.Has($"{p}.skip_connection.weight") ? Conv(x, $"{p}.skip_connection") : x;
            return g.Op("Add", [skip, h], p);
        }

        /// <summary>AttentionBlock with the flash layout: qkv channels (three, heads, d), softmax(qᵀk/√d), output channel head·d + i.</summary>
        private string Attention(AttentionBlock a, string p, string x)
        {
            var norm = (GroupNorm32)a.named_children().First(m => m.name == "norm").module;
            var qkv = Conv(GroupNorm(x, $"{p}.norm", norm), $"{p}.qkv");                              // [N, 3C, H, W]
            long ch = w.Shape($"{p}.proj_out.weight")[0], heads = a.Heads, d = ch / heads;
            var split = g.Op("Reshape", [qkv, g.Int64s(0, 3, heads, d, -1)], p);                     // [N, 3, heads, d, S]
            string Take(long i) => g.Op("Gather", [split, g.Int64Scalar(i)], p, ("axis", 1L));       // [N, heads, d, S]
            var q = Take(0); var k = Take(1); var v = Take(2);
            string weights;
            if (!fp16)
            {
                var scores = g.Op("MatMul", [g.Op("Transpose", [q], p, ("perm", new long[] { 0, 1, 3, 2 })), k], p);   // [N, heads, S, S]
                weights = g.Op("Softmax", [g.Op("Mul", [scores, g.Scalar((float)(1 / Math.Sqrt(d)))], p)], p, ("axis", -1L));
            }
            else
            {
                // float16: q and k each scaled by d^-1/4 before the product (QKVAttentionLegacy: no overflow), softmax in float32.
                var quarter = g.Half((float)Math.Pow(d, -0.25));
                var scores = g.Op("MatMul", [g.Op("Transpose", [g.Op("Mul", [q, quarter], p)], p, ("perm", new long[] { 0, 1, 3, 2 })), g.Op("Mul", [k, quarter], p)], p);
                weights = ToTorso(g.Op("Softmax", [ToFloat(scores, p)], p, ("axis", -1L)), p);
            }
            var attended = g.Op("MatMul", [v, g.Op("Transpose", [weights], p, ("perm", new long[] { 0, 1, 3, 2 }))], p); // [N, heads, d, S]
            var map = g.Op("Reshape", [attended, g.Op("Shape", [x], p)], p);                          // [N, C, H, W]
            return g.Op("Add", [x, Conv(map, $"{p}.proj_out")], p);
        }

        /// <summary>GroupNorm32 in float32: per-group statistics through InstanceNormalization on [N, G, rest], then the per-channel affine.</summary>
        private string GroupNorm(string x, string key, GroupNorm32 norm, bool torso = true)
        {
            // The official op order in float16: x.float() -> group norm with float32 affine -> back to float16.
            if (fp16 && torso) return ToTorso(GroupNorm(ToFloat(x, key), key, norm, torso: false), key);
            long groups = norm.Groups;
            var grouped = g.Op("Reshape", [x, g.Int64s(0, groups, -1)], key);
            var ones = g.Initializer($"{key}:ones", Enumerable.Repeat(1f, (int)groups).ToArray(), [groups]);
            var zeros = g.Initializer($"{key}:zeros", new float[groups], [groups]);
            var normed = g.Op("InstanceNormalization", [grouped, ones, zeros], key, ("epsilon", (float)norm.Eps));
            var back = g.Op("Reshape", [normed, g.Op("Shape", [x], key)], key);
            long ch = w.Shape($"{key}.weight")[0];
            return g.Op("Add", [g.Op("Mul", [back, w.Reshaped($"{key}.weight", [ch, 1, 1])], key), w.Reshaped($"{key}.bias", [ch, 1, 1])], key);
        }

        private string Conv(string x, string key, long stride = 1)
        {
            var shape = w.Shape($"{key}.weight");
            long k = shape[2], pad = k / 2;
            bool half = fp16 && UNetModel.IsTorsoModule(key + ".");
            return g.Op("Conv", [x, half ? w.Half($"{key}.weight") : w[$"{key}.weight"], half ? w.Half($"{key}.bias") : w[$"{key}.bias"]], key,
                ("kernel_shape", new[] { k, shape[3] }), ("strides", new[] { stride, stride }), ("pads", new[] { pad, pad, pad, pad }));
        }

        private string Linear(string x, string key) => g.Op("Gemm", [x, w[$"{key}.weight"], w[$"{key}.bias"]], key, ("transB", 1L));

        private string SiLU(string x, string hint) => g.Op("Mul", [x, g.Op("Sigmoid", [x], hint)], hint);

        private string AvgPool(string x, string hint) =>
            g.Op("AveragePool", [x], hint, ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 }));

        // Nearest x2 as PyTorch's interpolate(mode="nearest"): asymmetric coordinates, floor.
        private string Upsample(string x, string hint) =>
            g.Op("Resize", [x, "", g.Float32s(1, 1, 2, 2)], hint,
                ("mode", "nearest"), ("coordinate_transformation_mode", "asymmetric"), ("nearest_mode", "floor"));
    }
}
