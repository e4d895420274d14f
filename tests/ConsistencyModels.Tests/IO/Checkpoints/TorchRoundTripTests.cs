using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using ConsistencyModels.IO.Checkpoints;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.IO.Checkpoints;

public class TorchRoundTripTests
{
    /// <summary>Every supported dtype, odd shapes, special float values and non-contiguous sources.</summary>
    internal static OrderedDictionary<string, Tensor> Sample()
    {
        var g = new TorchSharp.torch.Generator(1234);
        var f32 = randn([3, 5], generator: g);
        f32[0, 0] = tensor(float.NaN);
        f32[0, 1] = tensor(-0.0f);
        f32[0, 2] = tensor(float.PositiveInfinity);
        f32[0, 3] = tensor(1e-45f); // subnormal
        using var big = randn([4, 5], generator: g);
        return new OrderedDictionary<string, Tensor>
        {
            ["f32"] = f32,
            ["f16"] = randn([7], generator: g).to(ScalarType.Float16),
            ["bf16"] = randn([2, 3], generator: g).to(ScalarType.BFloat16),
            ["f64"] = randn([2, 2], generator: g, dtype: ScalarType.Float64),
            ["i64"] = tensor(new long[] { long.MinValue, -1, 0, 1, long.MaxValue }),
            ["i32"] = tensor(new int[] { int.MinValue, 7, int.MaxValue }),
            ["i8"] = tensor(new sbyte[] { -128, 0, 127 }),
            ["u8"] = tensor(new byte[] { 0, 128, 255 }),
            ["bool"] = tensor(new bool[] { true, false, true }),
            ["scalar"] = tensor(2.5f),
            ["empty"] = zeros([0, 3]),
            ["transposed"] = big.t(),                                  // strides (1, 5)
            ["sliced"] = big[TensorIndex.Colon, TensorIndex.Slice(null, null, 2)], // every other column
            ["module.with.dots"] = ones([1, 1, 1, 1], dtype: ScalarType.Float16),
        };
    }

    [Fact]
    public void Save_then_load_is_bit_exact_for_every_dtype_and_layout()
    {
        using var dir = new TempDir();
        var path = dir.File("sd.pt");
        var source = Sample();
        TorchCheckpoint.Save(path, source);
        var loaded = TorchCheckpoint.LoadStateDict(path);
        try
        {
            TensorAssert.SameStateDict(source, loaded);
            TensorAssert.NoAliasing(loaded.Values);
            Assert.Single(Directory.GetFiles(dir.Path)); // the temporary file was renamed, not left behind
        }
        finally
        {
            TensorAssert.DisposeAll(source.Values);
            TensorAssert.DisposeAll(loaded.Values);
        }
    }

    [Fact]
    public void Large_tensors_cross_chunk_boundaries()
    {
        using var dir = new TempDir();
        var path = dir.File("big.pt");
        // More than TensorStreams.ChunkBytes, and not a multiple of it.
        using var big = arange(0, TensorStreams.ChunkBytes / 4 + 12345, dtype: ScalarType.Float32).reshape(-1, 1).t();
        TorchCheckpoint.Save(path, [new("w", big)]);
        var loaded = TorchCheckpoint.LoadStateDict(path);
        try { TensorAssert.BitEqual(big, loaded["w"]); }
        finally { TensorAssert.DisposeAll(loaded.Values); }
    }

    [Fact]
    public void Saved_archive_has_torch_layout_stored_and_64_byte_aligned()
    {
        using var dir = new TempDir();
        var path = dir.File("layout.pt");
        var source = Sample();
        TorchCheckpoint.Save(path, source);
        var bytes = File.ReadAllBytes(path);
        using (var zip = ZipFile.OpenRead(path))
        {
            var names = zip.Entries.Select(e => e.FullName).ToList();
            var expected = new List<string> { "archive/data.pkl", "archive/byteorder" };
            expected.AddRange(Enumerable.Range(0, source.Count).Select(i => $"archive/data/{i}"));
            expected.Add("archive/version");
            Assert.Equal(expected, names);
            Assert.All(zip.Entries, e => Assert.Equal(e.Length, e.CompressedLength));
            Assert.Equal("little", Read(zip, "archive/byteorder"));
            Assert.Equal("3\n", Read(zip, "archive/version"));
            foreach (var e in zip.Entries)
            {
                using var ms = new MemoryStream();
                using (var s = e.Open()) s.CopyTo(ms);
                Assert.Equal(System.IO.Hashing.Crc32.HashToUInt32(ms.ToArray()), e.Crc32);
            }
        }
        int i = 0;
        foreach (var (name, t) in source)
        {
            long start = DataStart(bytes, $"archive/data/{i++}");
            Assert.Equal(0, start % 64);
            using var c = t.contiguous();
            Assert.True(bytes.AsSpan((int)start, c.bytes.Length).SequenceEqual(c.bytes), name);
        }
        TensorAssert.DisposeAll(source.Values);
    }

    [Fact]
    public void Saved_pickle_is_what_torch_save_writes()
    {
        using var dir = new TempDir();
        var path = dir.File("p.pt");
        using var t = zeros([2, 3], dtype: ScalarType.BFloat16);
        TorchCheckpoint.Save(path, [new("a.weight", t)]);
        using var zip = ZipFile.OpenRead(path);
        using var ms = new MemoryStream();
        using (var s = zip.GetEntry("archive/data.pkl")!.Open()) s.CopyTo(ms);
        var pkl = ms.ToArray();
        // Same opening as PyTorch's own pickle of an OrderedDict state dict.
        Assert.StartsWith("\u0080\u0002ccollections\nOrderedDict\nq\u0000)R(X", Encoding.Latin1.GetString(pkl));
        var graph = (OrderedDictionary<string, object?>)PickleReader.Load(pkl, path, new TorchPickleResolver(path))!;
        var r = Assert.IsType<TorchTensorRecipe>(graph["a.weight"]);
        Assert.Equal(("0", ScalarType.BFloat16, 6L), (r.Storage.Key, r.Storage.Dtype.Type, r.Storage.Numel));
        Assert.Equal(0L, r.Offset);
        Assert.Equal([2L, 3], r.Size);
        Assert.Equal([3L, 1], r.Stride);
    }

    [Fact]
    public void Zip64_records_are_readable()
    {
        using var dir = new TempDir();
        var path = dir.File("z64.pt");
        var source = Sample();
        TorchZipWriter.Save(path, source, forceZip64: true);
        var loaded = TorchCheckpoint.LoadStateDict(path);
        try { TensorAssert.SameStateDict(source, loaded); }
        finally
        {
            TensorAssert.DisposeAll(source.Values);
            TensorAssert.DisposeAll(loaded.Values);
        }
    }

    [Fact]
    public void Save_replaces_an_existing_file_and_keeps_the_order()
    {
        using var dir = new TempDir();
        var path = dir.File("sd.pt");
        File.WriteAllText(path, "old contents");
        using var b = ones(2);
        using var a = zeros(3);
        TorchCheckpoint.Save(path, [new("b", b), new("a", a)]);
        var root = TorchCheckpoint.ReadObject(path);
        try { Assert.Equal(["b", "a"], root.Keys); }
        finally { TensorAssert.DisposeAll(root.Values.Cast<Tensor>()); }
    }

    [Fact]
    public void Save_rejects_duplicate_keys_and_unsupported_dtypes()
    {
        using var dir = new TempDir();
        using var t = ones(2);
        using var c = ones(2, dtype: ScalarType.ComplexFloat32);
        Assert.Throws<ArgumentException>(() => TorchCheckpoint.Save(dir.File("a.pt"), [new("x", t), new("x", t)]));
        var e = Assert.Throws<ArgumentException>(() => TorchCheckpoint.Save(dir.File("b.pt"), [new("c", c)]));
        Assert.Contains("ComplexFloat32", e.Message);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    private static string Read(ZipArchive zip, string name)
    {
        using var r = new StreamReader(zip.GetEntry(name)!.Open());
        return r.ReadToEnd();
    }

    /// <summary>Offset of an entry's data, from its local header (name, then the extra field).</summary>
    private static long DataStart(byte[] file, string name)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        for (int at = 0; at + 30 < file.Length; at++)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at)) != 0x04034b50) continue;
            int nameLen = BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(at + 26));
            int extraLen = BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(at + 28));
            if (file.AsSpan(at + 30, nameLen).SequenceEqual(nameBytes)) return at + 30 + nameLen + extraLen;
        }
        throw new InvalidOperationException($"no local header for {name}");
    }
}
