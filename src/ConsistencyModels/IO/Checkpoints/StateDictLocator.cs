using static TorchSharp.torch;

namespace ConsistencyModels.IO.Checkpoints;

/// <summary>
/// Finds the model weights inside a checkpoint: training scripts save either the bare state dict or a dict that
/// holds it next to optimizer state, step counters and the like.
/// </summary>
internal static class StateDictLocator
{
    /// <summary>Where training scripts usually put the weights, in the order they are tried.</summary>
    public static readonly string[] CandidateKeys = ["state_dict", "model", "ema", "model_state_dict", "params"];

    /// <summary>Prefixes wrappers add to every key: nn.DataParallel / DistributedDataParallel, torch.compile.</summary>
    private static readonly string[] WrapperPrefixes = ["module.", "_orig_mod."];

    /// <summary>The dict in <paramref name="root"/> that holds the weights, or an error naming what is there.</summary>
    public static OrderedDictionary<string, object?> Locate(OrderedDictionary<string, object?> root, string? key, string path)
    {
        if (key is not null) return ByKey(root, key, path);
        if (IsTensorDict(root)) return root;
        foreach (var candidate in CandidateKeys)
            if (root.TryGetValue(candidate, out var v) && IsTensorDict(v)) return (OrderedDictionary<string, object?>)v!;

        var holders = root.Where(kv => IsTensorDict(kv.Value)).ToList();
        if (holders.Count == 1) return (OrderedDictionary<string, object?>)holders[0].Value!;
        if (holders.Count > 1)
            throw new CheckpointFormatException(
                $"{path}: several entries hold a state dict ({string.Join(", ", holders.Select(h => $"'{h.Key}'"))}); pass the key of the one to load.");
        throw new CheckpointFormatException($"{path}: no state dict found (a dict whose values are all tensors). Top-level entries: {DescribeEntries(root)}.");
    }

    private static OrderedDictionary<string, object?> ByKey(OrderedDictionary<string, object?> root, string key, string path)
    {
        // "a.b" may also name a nested entry.
        object? node = root.TryGetValue(key, out var direct) ? direct : null;
        if (node is null && key.Contains('.'))
        {
            node = root;
            foreach (var part in key.Split('.'))
                node = node is OrderedDictionary<string, object?> d && d.TryGetValue(part, out var child) ? child : null;
        }
        if (node is null)
            throw new CheckpointFormatException($"{path}: has no entry '{key}'. Top-level entries: {DescribeEntries(root)}.");
        if (!IsTensorDict(node))
            throw new CheckpointFormatException($"{path}: entry '{key}' is {Describe(node)}, not a state dict (a dict whose values are all tensors).");
        return (OrderedDictionary<string, object?>)node;
    }

    /// <summary>Removes a wrapper prefix that every key carries (repeatedly: module._orig_mod. also occurs).</summary>
    public static OrderedDictionary<string, Tensor> StripWrapperPrefixes(OrderedDictionary<string, Tensor> dict)
    {
        while (dict.Count > 0 && WrapperPrefixes.FirstOrDefault(p => dict.Keys.All(k => k.StartsWith(p, StringComparison.Ordinal))) is { } prefix)
        {
            var stripped = new OrderedDictionary<string, Tensor>(dict.Count);
            foreach (var (k, v) in dict) stripped.Add(k[prefix.Length..], v);
            dict = stripped;
        }
        return dict;
    }

    public static bool IsTensorDict(object? value) =>
        value is OrderedDictionary<string, object?> { Count: > 0 } d && d.Values.All(v => v is Tensor);

    private static string DescribeEntries(OrderedDictionary<string, object?> root)
    {
        if (root.Count == 0) return "(none: the checkpoint is an empty dict)";
        const int Max = 20;
        var shown = root.Take(Max).Select(kv => $"'{kv.Key}' ({Describe(kv.Value)})");
        return string.Join(", ", shown) + (root.Count > Max ? $", ... ({root.Count} in all)" : "");
    }

    private static string Describe(object? value) => value switch
    {
        Tensor t => $"tensor {t.dtype} [{string.Join(", ", t.shape)}]",
        OrderedDictionary<string, object?> d when IsTensorDict(d) => $"dict of {d.Count} tensors",
        OrderedDictionary<string, object?> d => $"dict with {d.Count} entries",
        List<object?> l => $"list of {l.Count}",
        object?[] a => $"tuple of {a.Length}",
        null => "None",
        string => "str",
        long => "int",
        double => "float",
        bool => "bool",
        _ => value.GetType().Name,
    };
}
