using static TorchSharp.torch;

namespace ConsistencyModels.IO.Checkpoints;

/// <summary>
/// PyTorch checkpoints (<c>torch.save</c> zip format, .pt/.pth/.bin) without Python: read safely (nothing in the file
/// can run code, as with <c>torch.load(weights_only=True)</c>) and written so that <c>torch.load</c> reads them.
/// </summary>
/// <remarks>
/// Tensors come back on the CPU, contiguous, each owning its memory (views into shared storages are copied out), with
/// requires_grad off. They are created in the caller's dispose scope, if any; otherwise the caller disposes them.
/// Every reader takes optional <see cref="ReadLimits"/> (default <see cref="ReadLimits.Default"/>): a file that would
/// exceed them is refused with a <see cref="CheckpointFormatException"/> naming the limit.
/// </remarks>
public static class TorchCheckpoint
{
    /// <summary>
    /// The unpickled top-level dict: nested dicts as <see cref="OrderedDictionary{TKey,TValue}"/> of string to object?,
    /// lists as List&lt;object?&gt;, tuples as object?[], ints as long, floats as double, tensors as <see cref="Tensor"/>.
    /// </summary>
    public static IReadOnlyDictionary<string, object?> ReadObject(string path, ReadLimits? limits = null) => ReadRootDict(path, limits);

    /// <summary>
    /// The unpickled root object, whatever it is (dict, list, tuple, tensor or plain value), with the same mapping as
    /// <see cref="ReadObject"/>: dicts as <see cref="OrderedDictionary{TKey,TValue}"/> of string to object? (integer keys,
    /// as in an optimizer state dict, become their decimal text: 0 → "0"), lists as List&lt;object?&gt;, tuples as
    /// object?[], ints as long, floats as double, None as null. The caller owns every tensor in the graph.
    /// </summary>
    public static object? ReadGraph(string path, ReadLimits? limits = null) => TorchZipReader.ReadGraph(path, limits);

    /// <summary>Every tensor in the checkpoint under its dotted path (<c>{"a": {"b": t}}</c> → <c>"a.b"</c>), in file order.</summary>
    public static OrderedDictionary<string, Tensor> LoadTensors(string path, ReadLimits? limits = null)
    {
        var root = ReadRootDict(path, limits);
        var all = ObjectGraph.Tensors(root);
        try
        {
            var flat = ObjectGraph.Flatten(root, path, limits);
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
    public static OrderedDictionary<string, Tensor> LoadStateDict(string path, string? key = null, ReadLimits? limits = null)
    {
        var root = ReadRootDict(path, limits);
        var all = ObjectGraph.Tensors(root);
        try
        {
            var found = StateDictLocator.Locate(root, key, path);
            var result = new OrderedDictionary<string, Tensor>(found.Count);
            var used = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
            var clones = new CloneBudget(limits ?? ReadLimits.Default, path);
            // The same tensor under two names (tied weights) becomes two tensors, so no entry aliases another.
            foreach (var (name, value) in found)
            {
                var t = (Tensor)value!;
                result.Add(name, used.Add(t) ? t : clones.Clone(t, name));
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

    /// <summary>
    /// Writes a general object graph as a torch.save checkpoint that <c>torch.load(path, weights_only=True)</c> reads:
    /// tensors (any supported dtype and device, each in its own storage), str, int/long, float/double, bool, null,
    /// dicts (<see cref="IReadOnlyDictionary{TKey,TValue}"/> of string to object?, or any <see cref="System.Collections.IDictionary"/>)
    /// with string or integer keys as plain Python dicts in enumeration order, lists (<see cref="IList{T}"/> of object?
    /// or any <see cref="System.Collections.IList"/>) as Python lists, and <see cref="PickleTuple"/> or C# arrays as
    /// tuples. Unsupported values, cycles and duplicate keys throw <see cref="ArgumentException"/> before the file is
    /// touched. The file is replaced atomically.
    /// </summary>
    /// <remarks>
    /// Plain <c>torch.load</c> reads it in every PyTorch since 1.6. With weights_only=True, PyTorch 1.13 refuses any
    /// float in the graph (its restricted unpickler lacks the BINFLOAT opcode, so it cannot read its own optimizer
    /// state dicts either); 2.0 and later read it, including the 2.6+ default.
    /// </remarks>
    public static void SaveObject(string path, object? root) => TorchObjectWriter.Save(path, root);

    private static OrderedDictionary<string, object?> ReadRootDict(string path, ReadLimits? limits)
    {
        var graph = TorchZipReader.ReadGraph(path, limits);
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
