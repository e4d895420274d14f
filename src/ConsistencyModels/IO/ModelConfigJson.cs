// JSON form of ModelConfig using the official flag names (cm/script_util.py), so `--model-config file.json`
// works for any model trained with the official code.
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConsistencyModels.Nn;

namespace ConsistencyModels.IO;

public static class ModelConfigJson
{
    // Official flags that do not change the network's numbers at inference; accepted and ignored.
    private static readonly HashSet<string> Ignored =
        ["use_fp16", "use_checkpoint", "use_new_attention_order", "weight_schedule", "loss_norm", "schedule_sampler", "num_heads_upsample_legacy"];

    public static ModelConfig Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"model config '{path}' does not exist", path);
        try { return Parse(File.ReadAllText(path)); }
        catch (ArgumentException e) { throw new ArgumentException($"{path}: {e.Message}", e); }
    }

    public static ModelConfig Parse(string json)
    {
        JsonObject obj;
        try { obj = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })?.AsObject()
                    ?? throw new ArgumentException("model config must be a JSON object"); }
        catch (JsonException e) { throw new ArgumentException($"model config is not valid JSON: {e.Message}", e); }
        catch (InvalidOperationException) { throw new ArgumentException("model config must be a JSON object"); }

        var c = new ModelConfig();
        string? trainingMode = null;
        bool? distillation = null;
        foreach (var (key, node) in obj)
        {
            switch (key)
            {
                case "image_size": c = c with { ImageSize = Int(key, node) }; break;
                case "num_channels" or "model_channels": c = c with { NumChannels = Int(key, node) }; break;
                case "num_res_blocks": c = c with { NumResBlocks = Int(key, node) }; break;
                case "channel_mult": c = c with { ChannelMult = IntList(key, node) }; break;
                case "attention_resolutions": c = c with { AttentionResolutions = IntList(key, node) }; break;
                case "num_head_channels": c = c with { NumHeadChannels = Int(key, node) }; break;
                case "num_heads": c = c with { NumHeads = Int(key, node) }; break;
                case "num_heads_upsample": c = c with { NumHeadsUpsample = Int(key, node) }; break;
                case "class_cond": c = c with { ClassCond = Bool(key, node) }; break;
                case "num_classes": c = c with { NumClasses = node is null ? null : Int(key, node) }; break;
                case "use_scale_shift_norm": c = c with { UseScaleShiftNorm = Bool(key, node) }; break;
                case "resblock_updown": c = c with { ResblockUpdown = Bool(key, node) }; break;
                case "dropout": c = c with { Dropout = Double(key, node) }; break;
                case "learn_sigma": c = c with { LearnSigma = Bool(key, node) }; break;
                case "in_channels": c = c with { InChannels = Int(key, node) }; break;
                case "out_channels": c = c with { OutChannels = Int(key, node) }; break;
                case "sigma_min": c = c with { SigmaMin = Double(key, node) }; break;
                case "sigma_max": c = c with { SigmaMax = Double(key, node) }; break;
                case "sigma_data": c = c with { SigmaData = Double(key, node) }; break;
                case "rho": c = c with { Rho = Double(key, node) }; break;
                case "denoiser": c = c with { Denoiser = ParseDenoiser(Str(key, node)) }; break;
                case "training_mode": trainingMode = Str(key, node); break;
                case "distillation": distillation = Bool(key, node); break;
                default:
                    if (!Ignored.Contains(key))
                        throw new ArgumentException($"unknown model config key '{key}'. Known keys: image_size, num_channels, num_res_blocks, " +
                            "channel_mult, attention_resolutions, num_head_channels, num_heads, num_heads_upsample, class_cond, num_classes, " +
                            "use_scale_shift_norm, resblock_updown, dropout, learn_sigma, in_channels, out_channels, sigma_min, sigma_max, " +
                            "sigma_data, rho, denoiser (edm|consistency), training_mode");
                    break;
            }
        }
        // Upstream: distillation = "consistency" in training_mode. An explicit "denoiser" wins.
        if (!obj.ContainsKey("denoiser"))
        {
            if (distillation is bool dist) c = c with { Denoiser = dist ? DenoiserKind.Consistency : DenoiserKind.Edm };
            else if (trainingMode is not null) c = c with { Denoiser = trainingMode.Contains("consistency") ? DenoiserKind.Consistency : DenoiserKind.Edm };
            else throw new ArgumentException("model config needs \"denoiser\": \"edm\" (teachers) or \"consistency\" (CD/CT models)");
        }
        if (c.ClassCond && c.NumClasses is null) c = c with { NumClasses = 1000 };
        if (!c.ClassCond) c = c with { NumClasses = null };
        return c.Validate();
    }

    public static DenoiserKind ParseDenoiser(string s) => s.Trim().ToLowerInvariant() switch
    {
        "edm" or "karras" => DenoiserKind.Edm,
        "consistency" or "cm" or "cd" or "ct" => DenoiserKind.Consistency,
        _ => throw new ArgumentException($"denoiser must be \"edm\" or \"consistency\" (got \"{s}\")"),
    };

    public static string ToJson(ModelConfig c, bool indented = true)
    {
        var o = new JsonObject
        {
            ["image_size"] = c.ImageSize, ["num_channels"] = c.NumChannels, ["num_res_blocks"] = c.NumResBlocks,
            ["channel_mult"] = new JsonArray([.. c.ResolvedChannelMult.Select(v => (JsonNode)v)]),
            ["attention_resolutions"] = new JsonArray([.. c.AttentionResolutions.Select(v => (JsonNode)v)]),
            ["num_head_channels"] = c.NumHeadChannels, ["num_heads"] = c.NumHeads, ["num_heads_upsample"] = c.NumHeadsUpsample,
            ["class_cond"] = c.ClassCond, ["use_scale_shift_norm"] = c.UseScaleShiftNorm, ["resblock_updown"] = c.ResblockUpdown,
            ["dropout"] = c.Dropout, ["learn_sigma"] = c.LearnSigma, ["in_channels"] = c.InChannels, ["out_channels"] = c.OutChannels,
            ["num_classes"] = c.ResolvedNumClasses, ["sigma_min"] = c.SigmaMin, ["sigma_max"] = c.SigmaMax, ["sigma_data"] = c.SigmaData,
            ["denoiser"] = c.Denoiser == DenoiserKind.Edm ? "edm" : "consistency",
        };
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = indented });
    }

    /// <summary>Accepts "32,16,8", "1,2,3,4", "" (empty = official default), "(1,2,3,4)" or a JSON array.</summary>
    private static IReadOnlyList<int> IntList(string key, JsonNode? node)
    {
        if (node is JsonArray arr) return arr.Select(n => Int(key, n)).ToArray();
        if (node is JsonValue v && v.TryGetValue(out string? s))
        {
            var parts = s.Trim().Trim('(', ')', '[', ']').Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            try { return parts.Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray(); }
            catch (FormatException) { throw new ArgumentException($"{key} must be a list of integers like \"32,16,8\" or [32, 16, 8] (got \"{s}\")"); }
        }
        throw new ArgumentException($"{key} must be a string like \"32,16,8\" or an array of integers");
    }

    private static int Int(string key, JsonNode? n)
    {
        if (n is JsonValue v)
        {
            if (v.TryGetValue(out int i)) return i;
            if (v.TryGetValue(out double d) && d == Math.Floor(d) && d >= int.MinValue && d <= int.MaxValue) return (int)d;
            if (v.TryGetValue(out string? s) && int.TryParse(s, CultureInfo.InvariantCulture, out i)) return i;
        }
        throw new ArgumentException($"{key} must be an integer (got {n?.ToJsonString() ?? "null"})");
    }

    private static double Double(string key, JsonNode? n)
    {
        if (n is JsonValue v)
        {
            if (v.TryGetValue(out double d)) return d;
            if (v.TryGetValue(out string? s) && double.TryParse(s, CultureInfo.InvariantCulture, out d)) return d;
        }
        throw new ArgumentException($"{key} must be a number (got {n?.ToJsonString() ?? "null"})");
    }

    private static bool Bool(string key, JsonNode? n)
    {
        if (n is JsonValue v)
        {
            if (v.TryGetValue(out bool b)) return b;
            if (v.TryGetValue(out string? s) && bool.TryParse(s, out b)) return b;
        }
        throw new ArgumentException($"{key} must be true or false (got {n?.ToJsonString() ?? "null"})");
    }

    private static string Str(string key, JsonNode? n) =>
        n is JsonValue v && v.TryGetValue(out string? s) ? s : throw new ArgumentException($"{key} must be a string");
}
