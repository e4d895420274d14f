using System.IO.Compression;
using ConsistencyModels.IO.Checkpoints;

namespace ConsistencyModels.Tests.IO.Checkpoints;

/// <summary>
/// Writes hand-made torch.save archives (custom pickles and raw storage records), for layouts the public writer never
/// produces: strided and shared views, nested dicts, refused globals.
/// </summary>
internal static class TorchZipBuilder
{
    public static void Write(string path, byte[] pickle, IReadOnlyDictionary<string, byte[]>? storages = null,
                             string archive = "archive", IEnumerable<(string Name, byte[] Data)>? extra = null)
    {
        using var fs = File.Create(path);
        using var zip = new ZipArchive(fs, ZipArchiveMode.Create);
        void Add(string name, byte[] data)
        {
            var e = zip.CreateEntry(name, CompressionLevel.NoCompression);
            using var s = e.Open();
            s.Write(data);
        }
        Add($"{archive}/data.pkl", pickle);
        foreach (var (key, data) in storages ?? new Dictionary<string, byte[]>()) Add($"{archive}/data/{key}", data);
        foreach (var (name, data) in extra ?? []) Add(name, data);
        Add($"{archive}/version", "3\n"u8.ToArray());
    }

    /// <summary>Emits <c>_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())</c>.</summary>
    public static PickleWriter TensorRef(this PickleWriter w, string storageClass, string key, long numel,
                                         long offset, long[] size, long[] stride)
    {
        w.Global("torch._utils", "_rebuild_tensor_v2").Mark();
        w.Mark().String("storage").Global("torch", storageClass).String(key).String("cpu").Int(numel).TupleFromMark().BinPersId();
        w.Int(offset).IntTuple(size).IntTuple(stride).Bool(false);
        w.Global("collections", "OrderedDict").EmptyTuple().Reduce();
        return w.TupleFromMark().Reduce();
    }

    public static byte[] Floats(params float[] values) => values.SelectMany(BitConverter.GetBytes).ToArray();
}
