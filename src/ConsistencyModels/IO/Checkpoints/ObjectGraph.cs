using static TorchSharp.torch;

namespace ConsistencyModels.IO.Checkpoints;

/// <summary>
/// Walks unpickled object graphs (dicts, lists, tuples). Pickles can share containers (memo) and even build cycles,
/// so every walk tracks what it has visited instead of trusting the graph to be a tree.
/// </summary>
internal static class ObjectGraph
{
    private const int MaxDepth = 1000;

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
    /// Non-tensor leaves are skipped. A tensor met twice is cloned the second time, so no two entries alias.
    /// </summary>
    public static OrderedDictionary<string, Tensor> Flatten(object? root, string source)
    {
        var result = new OrderedDictionary<string, Tensor>();
        var emitted = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var ancestors = new HashSet<object>(ReferenceEqualityComparer.Instance);

        void Add(string name, Tensor t)
        {
            if (result.ContainsKey(name))
                throw new CheckpointFormatException($"{source}: two entries flatten to the same name '{name}'");
            result.Add(name, emitted.Add(t) ? t : t.clone());
        }

        void Walk(object? node, string prefix, int depth)
        {
            if (depth > MaxDepth) throw new CheckpointFormatException($"{source}: the object graph is nested too deeply");
            if (node is Tensor t) { Add(prefix, t); return; }
            var children = Children(node);
            if (children is null) return;
            if (!ancestors.Add(node!)) throw new CheckpointFormatException($"{source}: the object graph contains a cycle at '{prefix}'");
            foreach (var (name, child) in children)
                Walk(child, prefix.Length == 0 ? name : prefix + "." + name, depth + 1);
            ancestors.Remove(node!);
        }

        Walk(root, "", 0);
        return result;
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
