// Strict state-dict loading with one readable error that names every missing key, unexpected key and shape mismatch,
// and says which preset or config the file probably belongs to.
using System.Text;
using ConsistencyModels.Nn;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ConsistencyModels.Presets;

/// <summary>A checkpoint that does not fit the model it is loaded into.</summary>
public sealed class CheckpointMismatchException(string message) : Exception(message);

public static class ModelWeights
{
    /// <summary>Copies every tensor of <paramref name="stateDict"/> into <paramref name="model"/> (dtype converted) or throws.</summary>
    public static void LoadInto(nn.Module model, IReadOnlyDictionary<string, Tensor> stateDict, string source, ModelConfig? config = null)
    {
        Check(model, stateDict, source, config);
        using var _ = no_grad();
        foreach (var (key, target) in model.state_dict())
            target.copy_(stateDict[key]);
    }

    /// <summary>
    /// Makes the checkpoint's tensors the parameters of <paramref name="model"/> (typically built on the meta device),
    /// converted to float32 where needed: no random initialisation and no second copy of the weights in memory.
    /// The state dict's tensors may be disposed afterwards (the parameters hold their own references).
    /// </summary>
    public static void Materialize(UNetModel model, IReadOnlyDictionary<string, Tensor> stateDict, string source) =>
        Adopt(model, stateDict, source, ScalarType.Float32, channelsLast: false, owned: false);

    /// <summary>
    /// <see cref="Materialize"/> that also converts the torso's convolutions to <paramref name="torsoDtype"/> (and NHWC with
    /// <paramref name="channelsLast"/>) tensor by tensor, as <see cref="UNetModel.ConvertTorso"/> would afterwards, and,
    /// with <paramref name="owned"/>, disposes each state-dict tensor as soon as it is adopted. Together they keep the
    /// peak near one copy of the weights: a converted tensor's original is freed before the next one is converted.
    /// </summary>
    internal static void Adopt(UNetModel model, IReadOnlyDictionary<string, Tensor> stateDict, string source,
                               ScalarType torsoDtype, bool channelsLast, bool owned)
    {
        Check(model, stateDict, source, model.Config);
        using var _ = no_grad();
        foreach (var (prefix, module) in model.named_modules().ToList())
        {
            bool torso = module is TorchSharp.Modules.Conv2d && UNetModel.IsTorsoModule(prefix);
            foreach (var (name, old) in module.named_parameters(recurse: false).ToList())
            {
                var loaded = stateDict[prefix.Length == 0 ? name : $"{prefix}.{name}"];
                var value = loaded.to(ScalarType.Float32);   // the same storage when it is float32 already
                if (torso && torsoDtype != ScalarType.Float32) Replace(ref value, value.to(torsoDtype));
                if (torso && channelsLast && name == "weight" && !MemoryLayout.HasChannelsLastStrides(value))
                    Replace(ref value, MemoryLayout.ToChannelsLast(value));
                var p = new Parameter(value.detach(), requires_grad: old.requires_grad);
                value.Dispose();
                // Free the original now when a converted copy was made (or the caller handed it over), not after the
                // whole model: that is the difference between one and two copies of the weights at the peak.
                if (owned || loaded.dtype != ScalarType.Float32) loaded.Dispose();
                switch (module)
                {
                    case TorchSharp.Modules.Conv2d c when name == "weight": c.weight = p; break;
                    case TorchSharp.Modules.Conv2d c when name == "bias": c.bias = p; break;
                    case TorchSharp.Modules.Linear l when name == "weight": l.weight = p; break;
                    case TorchSharp.Modules.Linear l when name == "bias": l.bias = p; break;
                    case TorchSharp.Modules.Embedding e when name == "weight": e.weight = p; break;
                    case GroupNorm32 g: g.SetParameter(name, p); break;
                    default: throw new InvalidOperationException($"cannot assign parameter '{prefix}.{name}' of {module.GetType().Name}");
                }
            }
        }
        if (torsoDtype != ScalarType.Float32 || channelsLast) model.ConvertTorso(torsoDtype, channelsLast);   // records the layout; copies nothing
    }

    private static void Replace(ref Tensor value, Tensor converted)
    {
        value.Dispose();
        value = converted;
    }

    private static void Check(nn.Module model, IReadOnlyDictionary<string, Tensor> stateDict, string source, ModelConfig? config)
    {
        var own = model.state_dict();
        var missing = own.Keys.Where(k => !stateDict.ContainsKey(k)).ToList();
        var unexpected = stateDict.Keys.Where(k => !own.ContainsKey(k)).ToList();
        var badShape = own.Where(kv => stateDict.TryGetValue(kv.Key, out var t) && !t.shape.SequenceEqual(kv.Value.shape))
                          .Select(kv => (kv.Key, Want: kv.Value.shape, Got: stateDict[kv.Key].shape)).ToList();
        if (missing.Count + unexpected.Count + badShape.Count > 0)
            throw new CheckpointMismatchException(Describe(source, config, stateDict, missing, unexpected, badShape));
    }

    private static string Describe(string source, ModelConfig? config, IReadOnlyDictionary<string, Tensor> sd,
                                   List<string> missing, List<string> unexpected, List<(string Key, long[] Want, long[] Got)> badShape)
    {
        var sb = new StringBuilder();
        sb.Append($"'{source}' does not fit the model");
        if (config is not null) sb.Append($" (num_channels={config.NumChannels}, class_cond={config.ClassCond.ToString().ToLowerInvariant()}, use_scale_shift_norm={config.UseScaleShiftNorm.ToString().ToLowerInvariant()}, channel_mult={string.Join(",", config.ResolvedChannelMult)}, num_res_blocks={config.NumResBlocks})");
        sb.AppendLine($": {missing.Count} missing keys, {unexpected.Count} unexpected keys, {badShape.Count} shape mismatches.");
        sb.Append("The checkpoint looks like: ").AppendLine(ArchitectureGuess.Describe(sd, config));
        void List(string title, IReadOnlyList<string> items)
        {
            if (items.Count == 0) return;
            sb.AppendLine($"{title} ({items.Count}):");
            foreach (var i in items) sb.AppendLine("  " + i);
        }
        List("missing keys", missing);
        List("unexpected keys", unexpected);
        List("shape mismatches (model vs checkpoint)", badShape.Select(b => $"{b.Key}: [{string.Join(", ", b.Want)}] vs [{string.Join(", ", b.Got)}]").ToList());
        return sb.ToString().TrimEnd();
    }
}
