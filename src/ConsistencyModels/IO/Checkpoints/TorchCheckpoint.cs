using static TorchSharp.torch;

namespace ConsistencyModels.IO.Checkpoints;

/// <summary>
/// PyTorch checkpoints (<c>torch.save</c> zip format, .pt/.pth/.bin) without Python: read safely (nothing in the file
/// can run code, as with <c>torch.load(weights_only=True)</c>) and written so that <c>torch.load</c> reads them.
/// </summary>
/// <remarks>
/// Tensors come back on the CPU, contiguous, each owning its memory (views into shared storages are copied out), with
/// requires_grad off. They are created in the caller's dispose scope, if any; otherwise the caller disposes them.
/// </remarks>
public static class TorchCheckpoint
{
    /// <summary>
    /// The unpickled top-level dict: nested dicts as <see cref="OrderedDictionary{TKey,TValue}"/> of string to object?,
    /// lists as List&lt;object?&gt;, tuples as object?[], ints as long, floats as double, tensors as <see cref="Tensor"/>.
    /// </summary>
    public static IReadOnlyDictionary<string, object?> ReadObject(string path) => ReadRootDict(path);

    /// <summary>Every tensor in the checkpoint under its dotted path (<c>{"a": {"b": t}}</c> → <c>"a.b"</c>), in file order.</summary>
    public static OrderedDictionary<string, Tensor> LoadTensors(string path)
    {
        var root = ReadRootDict(path);
        var all = ObjectGraph.Tensors(root);
        try
        {
            var flat = ObjectGraph.Flatten(root, path);
            DisposeAllBut(all, flat.Values);
            return flat;
        }
        catch
        {
            DisposeAllBut(all, []);
            throw;
        }
    }

    /// <summary>
    /// The model weights: the top level when all its values are tensors; otherwise the entry <paramref name="key"/>
    /// (dots may name a nested entry), else the first of "state_dict", "model", "ema", "model_state_dict", "params"
    /// that is a dict of tensors, else the only such entry. A "module." (DataParallel) or "_orig_mod."
    /// (torch.compile) prefix on every key is removed.
    /// </summary>
    public static OrderedDictionary<string, Tensor> LoadStateDict(string path, string? key = null)
    {
        var root = ReadRootDict(path);
        var all = ObjectGraph.Tensors(root);
        try
        {
            var found = StateDictLocator.Locate(root, key, path);
            var result = new OrderedDictionary<string, Tensor>(found.Count);
            var used = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
            // The same tensor under two names (tied weights) becomes two tensors, so no entry aliases another.
            foreach (var (name, value) in found)
            {
                var t = (Tensor)value!;
                result.Add(name, used.Add(t) ? t : t.clone());
            }
            DisposeAllBut(all, result.Values);
            return StateDictLocator.StripWrapperPrefixes(result);
        }
        catch
        {
            DisposeAllBut(all, []);
            throw;
        }
    }

    /// <summary>
    /// Writes <paramref name="stateDict"/> as a torch.save checkpoint (an OrderedDict of tensors) that
    /// <c>torch.load</c> reads, also with weights_only=True (PyTorch 1.6 and later). Tensors may be on any device and
    /// non-contiguous; each is stored in its own storage. The file is replaced atomically.
    /// </summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> stateDict) =>
        TorchZipWriter.Save(path, stateDict);

    private static OrderedDictionary<string, object?> ReadRootDict(string path)
    {
        var graph = TorchZipReader.ReadGraph(path);
        if (graph is OrderedDictionary<string, object?> dict) return dict;
        foreach (var t in ObjectGraph.Tensors(graph)) t.Dispose();
        throw new CheckpointFormatException(
            $"{path}: the checkpoint holds a {PickleReader.Describe(graph)}, not a dict; save a dict (e.g. model.state_dict()) instead.");
    }

    private static void DisposeAllBut(IEnumerable<Tensor> all, IEnumerable<Tensor> keep)
    {
        var kept = new HashSet<Tensor>(keep, ReferenceEqualityComparer.Instance);
        foreach (var t in all)
            if (!kept.Contains(t)) t.Dispose();
    }
}
