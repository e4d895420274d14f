// Reads the architecture flags that a state dict fixes (widths, class conditioning, scale-shift, depth) and matches
// them against the released presets, for error messages and `cm inspect`.
using System.Text;
using ConsistencyModels.IO;
using ConsistencyModels.Nn;
using static TorchSharp.torch;

namespace ConsistencyModels.Presets;

public static class ArchitectureGuess
{
    /// <summary>Flags read from tensor shapes; null where the state dict does not show them.</summary>
    public sealed record Observed(int? NumChannels, int? NumClasses, bool? UseScaleShiftNorm, int? InChannels, int? OutChannels,
                                  int InputBlocks, bool HasConvResample, int AttentionBlocks, int Tensors, long Parameters);

    public static Observed Observe(IReadOnlyDictionary<string, Tensor> sd)
    {
        int? Dim(string key, int dim) => sd.TryGetValue(key, out var t) && t.dim() > dim ? (int)t.shape[dim] : null;
        int? mc = Dim("time_embed.0.weight", 1);
        int? classes = Dim("label_emb.weight", 0);
        bool? ss = null;
        if (Dim("input_blocks.1.0.emb_layers.1.weight", 0) is int e && Dim("input_blocks.1.0.out_layers.3.weight", 0) is int o) ss = e == 2 * o;
        int inputBlocks = sd.Keys.Where(k => k.StartsWith("input_blocks.")).Select(k => k.Split('.')[1]).Distinct().Count();
        bool convResample = sd.Keys.Any(k => k.EndsWith(".op.weight") || k.EndsWith(".conv.weight"));
        int attn = sd.Keys.Count(k => k.EndsWith(".qkv.weight"));
        return new Observed(mc, classes, ss, Dim("input_blocks.0.0.weight", 1), Dim("out.2.weight", 0), inputBlocks, convResample, attn,
                            sd.Count, sd.Values.Sum(t => t.numel()));
    }

    /// <summary>Presets whose architecture has exactly these keys and shapes (EDM and CD/CT share one architecture).</summary>
    public static IReadOnlyList<CheckpointPreset> MatchingPresets(IReadOnlyDictionary<string, Tensor> sd) => Matching(CheckpointPresets.All, sd);

    /// <summary>Built-in models (this project's fmnist32 network) whose architecture has exactly these keys and shapes.</summary>
    public static IReadOnlyList<CheckpointPreset> MatchingBuiltIns(IReadOnlyDictionary<string, Tensor> sd) => Matching(BuiltInModels.All, sd);

    private static List<CheckpointPreset> Matching(IEnumerable<CheckpointPreset> presets, IReadOnlyDictionary<string, Tensor> sd)
    {
        var result = new List<CheckpointPreset>();
        foreach (var group in presets.GroupBy(p => ArchitectureKey(p.Model)))
        {
            if (ExpectedShapes(group.First().Model) is var expected && expected.Count == sd.Count &&
                expected.All(kv => sd.TryGetValue(kv.Key, out var t) && t.shape.SequenceEqual(kv.Value)))
                result.AddRange(group);
        }
        return result;
    }

    private static readonly Dictionary<string, Dictionary<string, long[]>> Cache = [];

    /// <summary>Identity of the weight layout: the config without the fields that do not change keys or shapes.</summary>
    public static string ArchitectureKey(ModelConfig c) =>
        ModelConfigJson.ToJson(c with { Denoiser = DenoiserKind.Consistency, Dropout = 0, SigmaMin = 0.002, SigmaMax = 80, SigmaData = 0.5 });

    /// <summary>Key -> shape of a config, built on the meta device (no memory for weights).</summary>
    public static Dictionary<string, long[]> ExpectedShapes(ModelConfig config)
    {
        lock (Cache)
        {
            var key = ArchitectureKey(config);
            if (Cache.TryGetValue(key, out var hit)) return hit;
            using var model = new UNetModel(config, META);
            var shapes = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
            Cache[key] = shapes;
            return shapes;
        }
    }

    /// <summary>
    /// The architecture flags the weights fix, read from key names and shapes: num_channels, channel_mult,
    /// num_res_blocks, class_cond/num_classes, use_scale_shift_norm, resblock_updown, in/out channels. image_size,
    /// attention_resolutions and head counts are not visible in the weights; they are taken from <paramref name="template"/>.
    /// Null when the keys are not those of this UNet family.
    /// </summary>
    public static ModelConfig? InferConfig(IReadOnlyDictionary<string, Tensor> sd, ModelConfig template)
    {
        var o = Observe(sd);
        if (o.NumChannels is not int mc || o.InChannels is not int inCh || o.OutChannels is not int outCh || o.UseScaleShiftNorm is not bool ss) return null;
        int outputBlocks = sd.Keys.Where(k => k.StartsWith("output_blocks.")).Select(k => k.Split('.')[1]).Distinct().Count();
        // An output block ends with an upsampler (ResBlock at sub-index 1 or 2 with in_layers, or Upsample's conv) once per level but the last.
        int ups = sd.Keys.Where(k => k.StartsWith("output_blocks.")).Select(k => k.Split('.'))
            .Where(p => p.Length > 3 && p[2] != "0" && (p[3] == "in_layers" || p[3] == "conv")).Select(p => p[1]).Distinct().Count();
        int levels = ups + 1;
        if (outputBlocks == 0 || outputBlocks % levels != 0) return null;
        int resBlocks = outputBlocks / levels - 1;
        var mult = new List<int>();
        for (int level = 0; level < levels; level++)
        {
            int block = (levels - 1 - level) * (resBlocks + 1);                  // decoder runs from the deepest level
            if (!sd.TryGetValue($"output_blocks.{block}.0.out_layers.3.weight", out var w)) return null;
            mult.Add((int)w.shape[0] / mc);
        }
        return template with
        {
            NumChannels = mc, ChannelMult = mult, NumResBlocks = resBlocks, ClassCond = o.NumClasses is not null, NumClasses = o.NumClasses,
            UseScaleShiftNorm = ss, ResblockUpdown = !o.HasConvResample, InChannels = inCh, OutChannels = outCh,
        };
    }

    public static string Describe(IReadOnlyDictionary<string, Tensor> sd, ModelConfig? template = null)
    {
        var o = Observe(sd);
        var sb = new StringBuilder();
        sb.Append($"{o.Tensors} tensors, {o.Parameters:N0} parameters");
        if (o.NumChannels is int mc) sb.Append($", num_channels={mc}");
        sb.Append(o.NumClasses is int nc ? $", class_cond=true (num_classes={nc})" : ", class_cond=false");
        if (o.UseScaleShiftNorm is bool ss) sb.Append($", use_scale_shift_norm={ss.ToString().ToLowerInvariant()}");
        sb.Append($", {o.InputBlocks} input blocks, {o.AttentionBlocks} attention blocks");
        sb.Append(o.HasConvResample ? ", conv resampling (resblock_updown=false)" : ", resblock_updown=true");
        var presets = MatchingPresets(sd);
        if (presets.Count > 0)
            return sb.Append($". It matches the architecture of the presets {string.Join(", ", presets.Select(p => p.Name))} " +
                             "(edm_* are EDM teachers, the others consistency models).").ToString();
        var builtIns = MatchingBuiltIns(sd);
        if (builtIns.Count > 0)
            return sb.Append($". It matches the architecture of the built-in models {string.Join(", ", builtIns.Select(p => p.Name))} " +
                             $"(this project's fmnist32 network: {builtIns[0].Model.ImageSize}x{builtIns[0].Model.ImageSize}, attention at " +
                             $"{string.Join(",", builtIns[0].Model.AttentionResolutions)}; edm_* is the EDM teacher, the others consistency models).").ToString();
        sb.Append(". It matches none of the released presets");
        if (InferConfig(sd, template ?? new ModelConfig { ImageSize = 64, NumHeadChannels = 64 }) is { } guess)
            sb.Append("; a `ModelConfig` with these flags should fit (image_size, attention_resolutions, num_head_channels and " +
                      "\"denoiser\" cannot be read from the weights: set them as trained): ")
              .Append(ModelConfigJson.ToJson(guess, indented: false));
        return sb.Append('.').ToString();
    }
}
