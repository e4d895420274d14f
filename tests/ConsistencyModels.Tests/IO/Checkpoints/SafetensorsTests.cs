using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using ConsistencyModels.IO.Checkpoints;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.IO.Checkpoints;

public class SafetensorsTests
{
    /// <summary>A safetensors file from a header (padded like the reference writer) and a data section.</summary>
    private static void WriteRaw(string path, string header, byte[] data)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var padded = new byte[(json.Length + 7) / 8 * 8];
        json.CopyTo(padded, 0);
        padded.AsSpan(json.Length).Fill((byte)' ');
        using var fs = File.Create(path);
        Span<byte> n = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(n, (ulong)padded.Length);
        fs.Write(n);
        fs.Write(padded);
        fs.Write(data);
    }

    [Fact]
    public void Save_then_load_is_bit_exact_and_keeps_order_and_metadata()
    {
        using var dir = new TempDir();
        var path = dir.File("m.safetensors");
        var source = TorchRoundTripTests.Sample();
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ü \"quoted\"" };
        Safetensors.Save(path, source, metadata);
        var loaded = Safetensors.Load(path);
        try
        {
            TensorAssert.SameStateDict(source, loaded);
            TensorAssert.NoAliasing(loaded.Values);
            Assert.Equal(metadata, Safetensors.ReadMetadata(path));
            Assert.Single(Directory.GetFiles(dir.Path));
        }
        finally
        {
            TensorAssert.DisposeAll(source.Values);
            TensorAssert.DisposeAll(loaded.Values);
        }
    }

    [Fact]
    public void Written_header_follows_the_spec()
    {
        using var dir = new TempDir();
        var path = dir.File("h.safetensors");
        using var a = ones([3], dtype: ScalarType.Float16);  // 6 bytes: would misalign what follows
        using var b = ones([2, 2], dtype: ScalarType.Float64);
        using var c = ones([1], dtype: ScalarType.Bool);
        Safetensors.Save(path, [new("a", a), new("b", b), new("c", c)]);
        var bytes = File.ReadAllBytes(path);
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, (8 + n) % 8);
        using var doc = JsonDocument.Parse(bytes.AsMemory(8, (int)n));
        var root = doc.RootElement;
        Assert.Equal(["a", "b", "c"], root.EnumerateObject().Select(p => p.Name));
        Assert.False(root.TryGetProperty("__metadata__", out _));
        Assert.Equal("F16", root.GetProperty("a").GetProperty("dtype").GetString());
        Assert.Equal("BOOL", root.GetProperty("c").GetProperty("dtype").GetString());
        foreach (var (name, size) in new[] { ("a", 2), ("b", 8), ("c", 1) })
        {
            var offsets = root.GetProperty(name).GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            Assert.Equal(0, offsets[0] % size); // every tensor aligned to its element size
        }
        Assert.Equal(bytes.Length - 8 - n, root.EnumerateObject().Max(p => p.Value.GetProperty("data_offsets")[1].GetInt64()));
    }

    [Fact]
    public void Reads_a_file_laid_out_by_the_reference_writer()
    {
        using var dir = new TempDir();
        var path = dir.File("ref.safetensors");
        var data = BitConverter.GetBytes(-7L).Concat(BitConverter.GetBytes(1.5f)).Concat(BitConverter.GetBytes(-2f)).ToArray();
        WriteRaw(path, """{"__metadata__":{"format":"pt"},"b.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[8,16]},"a":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}""", data);
        var t = Safetensors.Load(path);
        try
        {
            Assert.Equal(["b.weight", "a"], t.Keys);
            Assert.Equal([1.5f, -2f], t["b.weight"].data<float>().ToArray());
            Assert.Equal([1L, 2], t["b.weight"].shape);
            Assert.Equal(-7L, t["a"].item<long>());
            Assert.Empty(t["a"].shape);
            Assert.Equal("pt", Safetensors.ReadMetadata(path)["format"]);
        }
        finally { TensorAssert.DisposeAll(t.Values); }
    }

    [Theory]
    [InlineData("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}""", 8, "needs 8")]
    [InlineData("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"y":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}""", 8, "overlaps")]
    [InlineData("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, "gap of 4 bytes")]
    [InlineData("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 4, "truncated")]
    [InlineData("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 8, "4 bytes follow the last tensor")]
    [InlineData("""{"x":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}""", 1, "F8_E4M3, which is not supported")]
    [InlineData("""{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", 4, "not a non-negative integer")]
    [InlineData("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}""", 4, "begin <= end")]
    [InlineData("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, "names 'x' twice")]
    [InlineData("""{"__metadata__":{"n":1}}""", 0, "not a string")]
    [InlineData("""{"x": [1, 2""", 0, "not valid JSON")]
    public void Invalid_headers_are_rejected_with_the_reason(string header, int dataBytes, string expected)
    {
        using var dir = new TempDir();
        var path = dir.File("bad.safetensors");
        WriteRaw(path, header, new byte[dataBytes]);
        var e = Assert.Throws<CheckpointFormatException>(() => Safetensors.Load(path));
        Assert.Contains(expected, e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Impossible_header_sizes_are_rejected()
    {
        using var dir = new TempDir();
        var path = dir.File("huge.safetensors");
        var bytes = new byte[64];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1UL << 40);
        File.WriteAllBytes(path, bytes);
        Assert.Contains("header claims", Assert.Throws<CheckpointFormatException>(() => Safetensors.Load(path)).Message);
        File.WriteAllBytes(path, [1, 2, 3]);
        Assert.Contains("too short", Assert.Throws<CheckpointFormatException>(() => Safetensors.ReadMetadata(path)).Message);
    }

    [Fact]
    public void Save_rejects_reserved_and_duplicate_names()
    {
        using var dir = new TempDir();
        using var t = ones(1);
        Assert.Throws<ArgumentException>(() => Safetensors.Save(dir.File("a.safetensors"), [new("__metadata__", t)]));
        Assert.Throws<ArgumentException>(() => Safetensors.Save(dir.File("b.safetensors"), [new("x", t), new("x", t)]));
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void CheckpointFile_dispatches_safetensors_and_strips_wrapper_prefixes()
    {
        using var dir = new TempDir();
        var path = dir.File("weights.bin"); // the extension does not matter
        using var w = ones([2]);
        using var b = zeros([1]);
        Safetensors.Save(path, [new("module.w", w), new("module.b", b)]);
        var sd = CheckpointFile.LoadStateDict(path);
        try { Assert.Equal(["w", "b"], sd.Keys); }
        finally { TensorAssert.DisposeAll(sd.Values); }
    }
}
