// Reads the architecture flags that a state dict fixes (widths, class conditioning, scale-shift, depth) and matches
// them against the released presets, for error messages and `cm inspect`.
using System.Text;
using ConsistencyModels.Nn;
using ConsistencyModels.Presets;
using static TorchSharp.torch;

namespace ConsistencyModels.IO;

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
    public static IReadOnlyList<CheckpointPreset> MatchingPresets(IReadOnlyDictionary<string, Tensor> sd)
    {
        var result = new List<CheckpointPreset>();
        foreach (var group in CheckpointPresets.All.GroupBy(p => ArchitectureKey(p.Model)))
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

    public static string Describe(IReadOnlyDictionary<string, Tensor> sd)
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
        sb.Append(presets.Count > 0
            ? $". It matches the architecture of the presets {string.Join(", ", presets.Select(p => p.Name))} (edm_* use --denoiser edm)."
            : ". It matches none of the released presets: pass a --model-config with these values.");
        return sb.ToString();
    }
}
