using System.Buffers.Binary;
using System.Text.Json;

namespace ConsistencyModels.IO.Checkpoints;

/// <summary>One tensor of a safetensors header; offsets are relative to the start of the data section.</summary>
internal sealed record SafetensorsEntry(string Name, DtypeInfo Dtype, long[] Shape, long Begin, long End);

/// <summary>
/// The parsed and validated header of a safetensors file: 8-byte little-endian header size N, N bytes of JSON
/// (<c>{"name": {"dtype", "shape", "data_offsets"}, "__metadata__": {str: str}}</c>), then the data section.
/// Validation follows the reference implementation: tensors tile the data section exactly, without gaps or overlaps.
/// </summary>
internal sealed class SafetensorsHeader
{
    public required List<SafetensorsEntry> Entries { get; init; }
    public required OrderedDictionary<string, string> Metadata { get; init; }
    public required long DataStart { get; init; }

    public static SafetensorsHeader Read(Stream stream, string path)
    {
        long fileLength = stream.Length;
        Span<byte> prefix = stackalloc byte[8];
        if (fileLength < 8 || stream.ReadAtLeast(prefix, 8, throwOnEndOfStream: false) < 8)
            throw Error(path, $"the file is {fileLength} bytes, too short for a safetensors header");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n > Safetensors.MaxHeaderBytes || (long)n > fileLength - 8)
            throw Error(path, $"the header claims {n} bytes but the file has {fileLength} (not a safetensors file, or truncated)");
        var json = new byte[n];
        stream.ReadExactly(json);
        if (json.Length == 0 || json[0] != (byte)'{')
            throw Error(path, "the header does not start with '{'");

        JsonDocument doc;
        try { doc = JsonDocument.Parse(json); }
        catch (JsonException e) { throw Error(path, $"the header is not valid JSON ({e.Message})"); }
        using (doc)
        {
            try { return Parse(doc, n, fileLength, path); }
            // JsonDocument checks structure eagerly but decodes strings lazily: bad UTF-8 surfaces here.
            catch (InvalidOperationException e) { throw Error(path, $"the header is not valid UTF-8 JSON ({e.Message})"); }
        }
    }

    private static SafetensorsHeader Parse(JsonDocument doc, ulong n, long fileLength, string path)
    {
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Error(path, "the header is not a JSON object");
        var entries = new List<SafetensorsEntry>();
        var metadata = new OrderedDictionary<string, string>();
        var names = new HashSet<string>();
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (!names.Add(p.Name)) throw Error(path, $"the header names '{p.Name}' twice");
            if (p.Name == "__metadata__") ReadMetadata(p.Value, metadata, path);
            else entries.Add(ReadEntry(p.Name, p.Value, path));
        }
        long dataStart = 8 + (long)n;
        ValidateLayout(entries, fileLength - dataStart, path);
        return new SafetensorsHeader { Entries = entries, Metadata = metadata, DataStart = dataStart };
    }

    private static void ReadMetadata(JsonElement value, OrderedDictionary<string, string> into, string path)
    {
        if (value.ValueKind != JsonValueKind.Object) throw Error(path, "__metadata__ is not an object");
        foreach (var m in value.EnumerateObject())
        {
            if (m.Value.ValueKind != JsonValueKind.String) throw Error(path, $"__metadata__ value '{m.Name}' is not a string");
            into[m.Name] = m.Value.GetString()!;
        }
    }

    private static SafetensorsEntry ReadEntry(string name, JsonElement value, string path)
    {
        string what = $"tensor '{name}'";
        if (value.ValueKind != JsonValueKind.Object) throw Error(path, $"{what} is not described by an object");
        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw Error(path, $"{what} has no dtype");
        var dtypeName = dtypeElement.GetString()!;
        var dtype = TensorDtypes.FromSafetensorsName(dtypeName) ?? throw Error(path,
            $"{what} has dtype {dtypeName}, which is not supported (supported: {string.Join(", ", TensorDtypes.All.Select(d => d.SafetensorsName))})");
        var shape = Longs(value, "shape", path, what);
        var offsets = Longs(value, "data_offsets", path, what);
        if (offsets.Length != 2 || offsets[0] > offsets[1])
            throw Error(path, $"{what} has data_offsets [{string.Join(", ", offsets)}], not [begin, end] with begin <= end");
        long bytes = TensorDtypes.ByteCount(shape, dtype, $"{path}: {what}");
        if (offsets[1] - offsets[0] != bytes)
            throw Error(path, $"{what} spans {offsets[1] - offsets[0]} bytes but {dtype.SafetensorsName} [{string.Join(", ", shape)}] needs {bytes}");
        return new SafetensorsEntry(name, dtype, shape, offsets[0], offsets[1]);
    }

    private static long[] Longs(JsonElement parent, string property, string path, string what)
    {
        if (!parent.TryGetProperty(property, out var array) || array.ValueKind != JsonValueKind.Array)
            throw Error(path, $"{what} has no {property} array");
        return array.EnumerateArray()
            .Select(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out var v) && v >= 0
                ? v : throw Error(path, $"{what}: {property} holds {e.GetRawText()}, not a non-negative integer"))
            .ToArray();
    }

    /// <summary>Tensors must tile [0, dataLength) exactly: overlaps would alias, gaps or a short file mean corruption.</summary>
    private static void ValidateLayout(List<SafetensorsEntry> entries, long dataLength, string path)
    {
        long expected = 0;
        foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.Begin != expected)
                throw Error(path, e.Begin < expected
                    ? $"tensor '{e.Name}' overlaps the previous tensor (offset {e.Begin} < {expected})"
                    : $"a gap of {e.Begin - expected} bytes precedes tensor '{e.Name}' (offset {e.Begin}, expected {expected})");
            expected = e.End;
        }
        if (expected > dataLength)
            throw Error(path, $"the tensors need {expected} data bytes but the file holds {dataLength} (truncated file?)");
        if (expected < dataLength)
            throw Error(path, $"{dataLength - expected} bytes follow the last tensor (corrupt file?)");
    }

    private static CheckpointFormatException Error(string path, string message) =>
        new($"{path}: not a valid safetensors file: {message}.");
}
