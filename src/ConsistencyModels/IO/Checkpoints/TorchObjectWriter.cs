using System.Collections;
using System.Globalization;
using System.Numerics;
using static TorchSharp.torch;

namespace ConsistencyModels.IO.Checkpoints;

/// <summary>
/// Writes a general object graph (nested dicts, lists, tuples, tensors and plain values) in torch.save's zip format,
/// the way PyTorch pickles the same Python objects. The only globals used are the ones torch.save needs for tensors
/// (<c>torch._utils._rebuild_tensor_v2</c>, <c>torch.*Storage</c>, <c>collections.OrderedDict</c>), so
/// <c>torch.load(weights_only=True)</c> reads the result (in PyTorch 1.13 only without floats: its restricted
/// unpickler lacks BINFLOAT; 2.0 and later have it).
/// </summary>
/// <remarks>
/// Mapping: null → None, bool → bool, sbyte/byte/short/ushort/int/uint/long (and <see cref="BigInteger"/>) → int,
/// float/double → float, string → str, <see cref="Tensor"/> → tensor (its own storage; the same Tensor object met
/// again is written as a reference to the first, as pickle does), <see cref="PickleTuple"/> and C# arrays → tuple,
/// dictionaries (<see cref="IReadOnlyDictionary{TKey,TValue}"/> of string to object?, or any
/// <see cref="IDictionary"/>) with string or integer keys → dict in enumeration order, other lists
/// (<see cref="IList{T}"/> of object?, or any <see cref="IList"/>) → list. Anything else, a cycle, or a key that
/// appears twice (e.g. 1 and 1L) is an <see cref="ArgumentException"/> naming the path to the offending value,
/// raised before the file is touched.
/// </remarks>
internal static class TorchObjectWriter
{
    private const int MaxDepth = 500;

    public static void Save(string path, object? root, bool forceZip64 = false)
    {
        var storages = new List<Tensor>();
        var pickle = BuildPickle(root, storages);
        TorchZipWriter.WriteArchive(path, pickle, storages, forceZip64);
    }

    /// <summary>The data.pkl bytes for <paramref name="root"/>; the tensors to store are appended to <paramref name="storages"/> in key order.</summary>
    internal static byte[] BuildPickle(object? root, List<Tensor> storages)
    {
        var w = new PickleWriter();
        new Emitter(w, storages).Write(root, "root", 0);
        return w.Stop().ToArray();
    }

    private sealed class Emitter(PickleWriter w, List<Tensor> storages)
    {
        private readonly Dictionary<Tensor, int> _tensorMemo = new(ReferenceEqualityComparer.Instance);
        private readonly HashSet<object> _ancestors = new(ReferenceEqualityComparer.Instance);

        public void Write(object? value, string where, int depth)
        {
            if (depth > MaxDepth) throw new ArgumentException($"{where}: the object graph is nested more than {MaxDepth} levels deep");
            switch (value)
            {
                case null: w.None(); return;
                case bool b: w.Bool(b); return;
                case string s: w.String(s); return;
                case sbyte or byte or short or ushort or int or uint or long:
                    w.Int(Convert.ToInt64(value, CultureInfo.InvariantCulture));
                    return;
                case ulong u: w.Int(new BigInteger(u)); return;
                case BigInteger big: w.Int(big); return;
                case float f: w.Float(f); return;
                case double d: w.Float(d); return;
                case Tensor t: WriteTensor(t, where); return;
            }

            if (!_ancestors.Add(value)) throw new ArgumentException($"{where}: the object graph contains a cycle");
            switch (value)
            {
                case PickleTuple tuple: WriteTuple(tuple.Items, where, depth); break;
                case byte[]:
                    throw new ArgumentException($"{where}: bytes objects are not supported (torch.load(weights_only=True) cannot read them everywhere); store a uint8 tensor instead");
                case Array { Rank: > 1 }:
                    throw new ArgumentException($"{where}: a multi-dimensional array has no Python counterpart; store a tensor instead");
                case Array array: WriteTuple(array.Cast<object?>().ToArray(), where, depth); break;
                // Dictionaries before lists: OrderedDictionary<,> is both.
                case IReadOnlyDictionary<string, object?> dict:
                    WriteDict(dict.Select(kv => ((object?)kv.Key, kv.Value)), where, depth);
                    break;
                case IDictionary dict:
                    WriteDict(Entries(dict), where, depth);
                    break;
                case IList<object?> list: WriteList(list, where, depth); break;
                case IList list: WriteList(list.Cast<object?>(), where, depth); break;
                default:
                    throw new ArgumentException(
                        $"{where}: cannot write a {value.GetType().Name} to a checkpoint (supported: tensors, dicts, lists, tuples, strings, integers, floats, bools and null)");
            }
            _ancestors.Remove(value);
        }

        private void WriteTensor(Tensor t, string where)
        {
            if (_tensorMemo.TryGetValue(t, out var memo))
            {
                w.MemoGet(memo);
                return;
            }
            if (t.IsInvalid) throw new ArgumentException($"{where}: the tensor has been disposed");
            var dtype = TensorDtypes.Of(t.dtype, where);
            TorchZipWriter.WriteTensor(w, t, dtype, storages.Count);
            storages.Add(t);
            w.Memoize(out memo);
            _tensorMemo[t] = memo;
        }

        private void WriteTuple(object?[] items, string where, int depth)
        {
            if (items.Length == 0)
            {
                w.EmptyTuple();
                return;
            }
            if (items.Length > 3) w.Mark();
            for (int i = 0; i < items.Length; i++) Write(items[i], $"{where}[{i}]", depth + 1);
            if (items.Length > 3) w.TupleFromMark();
            else w.SmallTuple(items.Length);
        }

        private void WriteList(IEnumerable<object?> items, string where, int depth)
        {
            w.EmptyList();
            int i = 0;
            foreach (var item in items)
            {
                if (i == 0) w.Mark();
                Write(item, $"{where}[{i}]", depth + 1);
                i++;
            }
            if (i > 0) w.Appends();
        }

        private void WriteDict(IEnumerable<(object? Key, object? Value)> entries, string where, int depth)
        {
            w.EmptyDict();
            var keys = new HashSet<object>();
            foreach (var (key, value) in entries)
            {
                var pyKey = PythonKey(key, where);
                var shown = pyKey is string s ? $"'{s}'" : pyKey.ToString();
                if (!keys.Add(pyKey)) throw new ArgumentException($"{where}: the key {shown} appears twice");
                if (keys.Count == 1) w.Mark();
                Write(pyKey, where, depth + 1);
                Write(value, $"{where}[{shown}]", depth + 1);
            }
            if (keys.Count > 0) w.SetItems();
        }

        /// <summary>IDictionary.GetEnumerator (not IEnumerable's, which yields KeyValuePair for generic dictionaries).</summary>
        private static IEnumerable<(object? Key, object? Value)> Entries(IDictionary dict)
        {
            var e = dict.GetEnumerator();
            while (e.MoveNext()) yield return (e.Key, e.Value);
        }

        /// <summary>The key as Python sees it: a string, or an integer as <see cref="long"/>/<see cref="BigInteger"/>.</summary>
        private static object PythonKey(object? key, string where) => key switch
        {
            string s => s,
            sbyte or byte or short or ushort or int or uint or long => Convert.ToInt64(key, CultureInfo.InvariantCulture),
            ulong u => u <= long.MaxValue ? (long)u : new BigInteger(u),
            BigInteger b => b >= long.MinValue && b <= long.MaxValue ? (long)b : b,
            _ => throw new ArgumentException(
                $"{where}: dict keys must be strings or integers, not {(key is null ? "null" : key.GetType().Name)}"),
        };
    }
}
