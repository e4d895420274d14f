using System.Globalization;
using ConsistencyModels.IO.Zip;
using static TorchSharp.torch;

namespace ConsistencyModels.IO.Checkpoints;

/// <summary>
/// Writes a state dict in torch.save's zip format, byte-compatible with what PyTorch itself writes for
/// <c>torch.save(OrderedDict(...))</c>: data.pkl, byteorder, one storage record per tensor, version.
/// </summary>
internal static class TorchZipWriter
{
    // torch.save has used the archive folder "archive" since 2.0 (older versions used the file stem; both load).
    private const string Archive = "archive/";
    // Format version 3 (storages as records, the version since 1.6's zip format); torch.load accepts it everywhere.
    private const string FormatVersion = "3\n";

    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> stateDict, bool forceZip64 = false)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        var entries = stateDict.ToList();
        var names = new HashSet<string>();
        foreach (var (name, tensor) in entries)
        {
            ArgumentNullException.ThrowIfNull(name, "state dict key");
            if (tensor is null) throw new ArgumentException($"state dict entry '{name}' is null");
            if (!names.Add(name)) throw new ArgumentException($"state dict key '{name}' appears twice");
            TensorDtypes.Of(tensor.dtype, $"state dict entry '{name}'");
        }

        var pickle = BuildPickle(entries);
        WriteArchive(path, pickle, entries.Select(e => e.Value).ToList(), forceZip64);
    }

    /// <summary>
    /// Writes the archive atomically: <paramref name="pickle"/> as data.pkl, then storage record <c>i</c> with the
    /// elements of <paramref name="storages"/>[i] (the key <see cref="WriteTensor"/> was given).
    /// </summary>
    internal static void WriteArchive(string path, byte[] pickle, IReadOnlyList<Tensor> storages, bool forceZip64 = false)
    {
        AtomicFile.Write(path, stream =>
        {
            var zip = new ZipStoreWriter(stream, ZipStoreLayout.PyTorch with { ForceZip64 = forceZip64 });
            zip.Add(Archive + "data.pkl", pickle);
            zip.Add(Archive + "byteorder", "little"u8);
            for (int i = 0; i < storages.Count; i++)
            {
                var t = storages[i];
                long bytes = t.numel() * t.element_size();
                zip.Add(Archive + "data/" + StorageKey(i), bytes, s => TensorStreams.Write(s, t));
            }
            zip.Add(Archive + "version", System.Text.Encoding.ASCII.GetBytes(FormatVersion));
            zip.Finish();
        });
    }

    private static string StorageKey(int index) => index.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// OrderedDict() then SETITEMS of key → _rebuild_tensor_v2(persistent storage, 0, size, contiguous stride,
    /// False, OrderedDict()), exactly the shape of pickle torch.save produces.
    /// </summary>
    internal static byte[] BuildPickle(IReadOnlyList<KeyValuePair<string, Tensor>> entries)
    {
        var w = new PickleWriter();
        w.Global("collections", "OrderedDict").EmptyTuple().Reduce();
        if (entries.Count > 0)
        {
            w.Mark();
            for (int i = 0; i < entries.Count; i++)
            {
                var (name, t) = entries[i];
                w.String(name);
                WriteTensor(w, t, TensorDtypes.Of(t.dtype, name), i);
            }
            w.SetItems();
        }
        return w.Stop().ToArray();
    }

    /// <summary>
    /// Pushes <c>_rebuild_tensor_v2(persistent storage <paramref name="storageIndex"/>, 0, size, contiguous stride,
    /// False, OrderedDict())</c>: the tensor as torch.save pickles it, its elements in their own storage record.
    /// </summary>
    internal static void WriteTensor(PickleWriter w, Tensor t, DtypeInfo dtype, int storageIndex)
    {
        long[] size = t.shape;
        w.Global("torch._utils", "_rebuild_tensor_v2");
        w.Mark();
        w.Mark().String("storage").Global("torch", dtype.StorageName).String(StorageKey(storageIndex)).String("cpu")
         .Int(t.numel()).TupleFromMark().BinPersId();
        w.Int(0).IntTuple(size).IntTuple(ContiguousStrides(size)).Bool(false);
        w.Global("collections", "OrderedDict").EmptyTuple().Reduce();
        w.TupleFromMark().Reduce();
    }

    internal static long[] ContiguousStrides(long[] size)
    {
        var stride = new long[size.Length];
        long s = 1;
        for (int d = size.Length - 1; d >= 0; d--)
        {
            stride[d] = s;
            s *= Math.Max(size[d], 1);
        }
        return stride;
    }
}
