using System.Buffers;
using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;
using static TorchSharp.torch;

namespace ConsistencyModels.IO.Checkpoints;

/// <summary>
/// The safetensors format (https://github.com/huggingface/safetensors): a JSON header and raw little-endian tensor
/// bytes. Pure data by design, so there is nothing to refuse, only offsets and sizes to check.
/// </summary>
public static class Safetensors
{
    /// <summary>The reference implementation's limit on the header size; larger values mean a wrong file.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>All tensors, in header order, on the CPU. The caller owns (disposes) them.</summary>
    public static OrderedDictionary<string, Tensor> Load(string path)
    {
        if (File.Exists(path) && InputFiles.IsEmptyOrNotRegular(path))
            throw new CheckpointFormatException($"{path}: {InputFiles.EmptyOrNotRegular}, not a safetensors file");
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Load(fs, path);
    }

    /// <summary>All tensors of a safetensors file read from a seekable <paramref name="fs"/> (e.g. an embedded resource);
    /// <paramref name="path"/> names it in errors.</summary>
    public static OrderedDictionary<string, Tensor> Load(Stream fs, string path)
    {
        if (!fs.CanSeek) throw new ArgumentException($"{path}: safetensors needs a seekable stream", nameof(fs));
        var header = SafetensorsHeader.Read(fs, path);
        var loaded = new Dictionary<string, Tensor>();
        using var scope = NewDisposeScope();
        // Read in file order (sequential I/O), hand back in header order.
        foreach (var e in header.Entries.OrderBy(e => e.Begin))
        {
            var t = empty(e.Shape, e.Dtype.Type);
            fs.Position = header.DataStart + e.Begin;
            TensorStreams.ReadInto(fs, t, $"{path}: tensor '{e.Name}'");
            loaded[e.Name] = t;
        }
        var result = new OrderedDictionary<string, Tensor>(header.Entries.Count);
        foreach (var e in header.Entries) result.Add(e.Name, loaded[e.Name].MoveToOuterDisposeScope());
        return result;
    }

    /// <summary>The header's <c>__metadata__</c> (empty when absent), without reading any tensor data.</summary>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return SafetensorsHeader.Read(fs, path).Metadata;
    }

    /// <summary>The header's <c>__metadata__</c> of a safetensors stream.</summary>
    public static IReadOnlyDictionary<string, string> ReadMetadata(Stream fs, string path) => SafetensorsHeader.Read(fs, path).Metadata;

    /// <summary>
    /// Writes <paramref name="tensors"/> (any device or layout) and optional string <paramref name="metadata"/>.
    /// The header lists tensors in the given order; the data is laid out by decreasing element size so every tensor
    /// is aligned to its element size. The file is replaced atomically.
    /// </summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var entries = tensors.ToList();
        var names = new HashSet<string>();
        foreach (var (name, t) in entries)
        {
            ArgumentNullException.ThrowIfNull(name, "tensor name");
            if (t is null) throw new ArgumentException($"tensor '{name}' is null");
            if (name == "__metadata__") throw new ArgumentException("'__metadata__' is reserved and cannot name a tensor");
            if (!names.Add(name)) throw new ArgumentException($"tensor name '{name}' appears twice");
        }

        // Data layout: stable sort by element size, largest first (8-byte aligned header start keeps all aligned).
        var dtypes = entries.Select(e => TensorDtypes.Of(e.Value.dtype, $"tensor '{e.Key}'")).ToArray();
        var order = Enumerable.Range(0, entries.Count).OrderByDescending(i => dtypes[i].ElementSize).ToArray();
        var begin = new long[entries.Count];
        long offset = 0;
        foreach (var i in order)
        {
            begin[i] = offset;
            offset += entries[i].Value.numel() * dtypes[i].ElementSize;
        }

        var header = BuildHeader(entries, dtypes, begin, metadata);
        AtomicFile.Write(path, stream =>
        {
            Span<byte> size = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(size, (ulong)header.Length);
            stream.Write(size);
            stream.Write(header);
            foreach (var i in order) TensorStreams.Write(stream, entries[i].Value);
        });
    }

    private static byte[] BuildHeader(List<KeyValuePair<string, Tensor>> entries, DtypeInfo[] dtypes, long[] begin,
                                      IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        // Relaxed escaping keeps names readable (the output is still valid JSON).
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata) json.WriteString(k, v);
                json.WriteEndObject();
            }
            for (int i = 0; i < entries.Count; i++)
            {
                var t = entries[i].Value;
                json.WriteStartObject(entries[i].Key);
                json.WriteString("dtype", dtypes[i].SafetensorsName);
                json.WriteStartArray("shape");
                foreach (var d in t.shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(begin[i]);
                json.WriteNumberValue(begin[i] + t.numel() * dtypes[i].ElementSize);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
        int padded = (buffer.WrittenCount + 7) / 8 * 8;
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }
}
