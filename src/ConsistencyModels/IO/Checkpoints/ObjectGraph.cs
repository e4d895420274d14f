using static TorchSharp.torch;

namespace ConsistencyModels.IO.Checkpoints;

/// <summary>
/// Walks unpickled object graphs (dicts, lists, tuples). Pickles can share containers (memo) and even build cycles,
/// so every walk tracks what it has visited instead of trusting the graph to be a tree.
/// </summary>
internal static class ObjectGraph
{
    /// <summary>Distinct tensor recipes, in the order they are first met.</summary>
    public static List<TorchTensorRecipe> CollectRecipes(object? root)
    {
        var found = new List<TorchTensorRecipe>();
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        if (root is TorchTensorRecipe r0 && seen.Add(r0)) found.Add(r0); // a bare tensor saved as the root
        Visit(root, value =>
        {
            if (value is TorchTensorRecipe r && seen.Add(r)) found.Add(r);
            return value;
        });
        return found;
    }

    /// <summary>Replaces every recipe in the graph, in place, by its tensor; returns the (possibly replaced) root.</summary>
    public static object? ReplaceRecipes(object? root, IReadOnlyDictionary<TorchTensorRecipe, Tensor> tensors)
    {
        object? Map(object? value) => value is TorchTensorRecipe r ? tensors[r] : value;
        Visit(root, value => Map(value));
        return Map(root);
    }

    /// <summary>Every distinct tensor in the graph.</summary>
    public static List<Tensor> Tensors(object? root)
    {
        var found = new List<Tensor>();
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        if (root is Tensor t0) found.Add(t0);
        Visit(root, value =>
        {
            if (value is Tensor t && seen.Add(t)) found.Add(t);
            return value;
        });
        return found;
    }

    /// <summary>
    /// Tensors under dotted names (<c>{"a": {"b": t}}</c> → <c>"a.b"</c>; list items by index, like nn.ModuleList).
    /// Non-tensor leaves are skipped. A tensor met twice is cloned the second time, so no two entries alias. The walk
    /// spells shared containers out once per path, so it is bounded: depth, name length, entries visited
    /// (<see cref="ReadLimits.MaxPickleObjects"/>) and bytes cloned (<see cref="ReadLimits.MaxExpandedTensorBytes"/>).
    /// </summary>
    public static OrderedDictionary<string, Tensor> Flatten(object? root, string source, ReadLimits? limits = null)
    {
        limits ??= ReadLimits.Default;
        var result = new OrderedDictionary<string, Tensor>();
        var emitted = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var ancestors = new HashSet<object>(ReferenceEqualityComparer.Instance);
        var clones = new CloneBudget(limits, source);
        long visited = 0;

        void Add(string name, Tensor t)
        {
            if (result.ContainsKey(name))
                throw new CheckpointFormatException($"{source}: two entries flatten to the same name '{InputText.Clip(name)}'");
            result.Add(name, emitted.Add(t) ? t : clones.Clone(t, name));
        }

        void Walk(object? node, string prefix, int depth)
        {
            if (depth > limits.MaxPickleDepth)
                throw new CheckpointFormatException($"{source}: the object graph is nested more than {limits.MaxPickleDepth} deep (`MaxPickleDepth`)");
            if (++visited > limits.MaxPickleObjects)
                throw new CheckpointFormatException(
                    $"{source}: the object graph spells out more than {limits.MaxPickleObjects} entries (shared containers repeated?) (`MaxPickleObjects`)");
            if (prefix.Length > limits.MaxPickleKeyLength)
                throw new CheckpointFormatException(
                    $"{source}: an entry's dotted name is longer than {limits.MaxPickleKeyLength} characters ('{InputText.Clip(prefix)}') (`MaxPickleKeyLength`)");
            if (node is Tensor t) { Add(prefix, t); return; }
            var children = Children(node);
            if (children is null) return;
            if (!ancestors.Add(node!)) throw new CheckpointFormatException($"{source}: the object graph contains a cycle at '{InputText.Clip(prefix)}'");
            foreach (var (name, child) in children)
                Walk(child, prefix.Length == 0 ? name : prefix + "." + name, depth + 1);
            ancestors.Remove(node!);
        }

        Walk(root, "", 0);
        return result;
    }

    /// <summary>
    /// The first dotted name under which each recipe is met (for messages that name a tensor). Iterative and each
    /// container once, like <see cref="Visit"/>; names are cut at <see cref="InputText.MaxQuoted"/> characters.
    /// </summary>
    public static Dictionary<TorchTensorRecipe, string> RecipeNames(object? root)
    {
        var names = new Dictionary<TorchTensorRecipe, string>(ReferenceEqualityComparer.Instance);
        if (root is TorchTensorRecipe r0) names[r0] = "(root)";
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<(object Node, string Prefix)>();
        if (root is not null && IsContainer(root)) pending.Push((root, ""));
        while (pending.Count > 0)
        {
            var (node, prefix) = pending.Pop();
            if (!seen.Add(node)) continue;
            foreach (var (name, child) in Children(node)!)
            {
                var full = prefix.Length == 0 ? name : prefix + "." + name;
                if (full.Length > InputText.MaxQuoted) full = full[..InputText.MaxQuoted] + "...";
                if (child is TorchTensorRecipe r) names.TryAdd(r, full);
                else if (child is not null && IsContainer(child)) pending.Push((child, full));
            }
        }
        return names;
    }

    private static IEnumerable<(string Name, object? Value)>? Children(object? node) => node switch
    {
        OrderedDictionary<string, object?> d => d.Select(kv => (kv.Key, kv.Value)),
        List<object?> l => l.Select((v, i) => (i.ToString(System.Globalization.CultureInfo.InvariantCulture), v)),
        object?[] a => a.Select((v, i) => (i.ToString(System.Globalization.CultureInfo.InvariantCulture), v)),
        _ => null,
    };

    /// <summary>
    /// Calls <paramref name="map"/> on every value held by a container reachable from <paramref name="root"/> and
    /// stores the result back. Iterative, each container once: safe on shared, deep or cyclic graphs.
    /// </summary>
    private static void Visit(object? root, Func<object?, object?> map)
    {
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<object>();
        if (root is not null && IsContainer(root)) pending.Push(root);
        while (pending.Count > 0)
        {
            var node = pending.Pop();
            if (!seen.Add(node)) continue;
            switch (node)
            {
                case OrderedDictionary<string, object?> d:
                    for (int i = 0; i < d.Count; i++)
                    {
                        var v = d.GetAt(i).Value;
                        d.SetAt(i, map(v));
                        if (v is not null && IsContainer(v)) pending.Push(v);
                    }
                    break;
                case List<object?> l:
                    for (int i = 0; i < l.Count; i++)
                    {
                        var v = l[i];
                        l[i] = map(v);
                        if (v is not null && IsContainer(v)) pending.Push(v);
                    }
                    break;
                case object?[] a:
                    for (int i = 0; i < a.Length; i++)
                    {
                        var v = a[i];
                        a[i] = map(v);
                        if (v is not null && IsContainer(v)) pending.Push(v);
                    }
                    break;
            }
        }
    }

    private static bool IsContainer(object o) => o is OrderedDictionary<string, object?> or List<object?> or object?[];
}

/// <summary>
/// Bytes spent on copies of tensors already read (one tensor under several names): the file holds them once, so
/// they count against <see cref="ReadLimits.MaxExpandedTensorBytes"/>. One per read; not shared.
/// </summary>
internal sealed class CloneBudget(ReadLimits limits, string source)
{
    private long _spent;

    public Tensor Clone(Tensor t, string name)
    {
        long bytes = t.numel() * t.element_size();
        if (bytes > limits.MaxExpandedTensorBytes - _spent)
            throw new CheckpointFormatException(
                $"{source}: tensor '{InputText.Clip(name)}' repeats one already read; copying it would take {bytes + _spent} bytes beyond those in the file, " +
                $"above the limit of {limits.MaxExpandedTensorBytes} (`MaxExpandedTensorBytes`)");
        _spent += bytes;
        return t.clone();
    }
}
