// TorchCheckpoint.SaveObject (general object graphs in torch.save's format) read back with TorchCheckpoint.ReadGraph,
// and a guard that the flat TorchCheckpoint.Save still writes the same bytes.
using System.IO.Compression;
using System.Security.Cryptography;
using ConsistencyModels.IO.Checkpoints;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.IO.Checkpoints;

public class ObjectWriterTests
{
    /// <summary>A deterministic state dict (no random numbers) covering several dtypes and layouts.</summary>
    private static OrderedDictionary<string, Tensor> FixedStateDict()
    {
        using var big = arange(0, 20, dtype: ScalarType.Float32).reshape(4, 5);
        return new OrderedDictionary<string, Tensor>
        {
            ["w"] = arange(0, 6, dtype: ScalarType.Float32).reshape(2, 3) / 7,
            ["h"] = arange(0, 5, dtype: ScalarType.Float16),
            ["i"] = tensor(new long[] { long.MinValue, -1, 0, 1, long.MaxValue }),
            ["b"] = tensor(new bool[] { true, false }),
            ["scalar"] = tensor(2.5f),
            ["empty"] = zeros([0, 3]),
            ["t"] = big.t(),
            ["four.dims"] = ones([1, 2, 1, 2], dtype: ScalarType.BFloat16),
            ["ünï"] = zeros([300]),
        };
    }

    [Fact]
    public void Flat_save_output_is_unchanged()
    {
        // SHA-256 of TorchCheckpoint.Save's file for FixedStateDict, recorded before the object writer existed.
        const string Expected = "6c3362de8f1874db6cb120fe38054b5213a669f57fe613851d46ab93b68bd657";
        using var dir = new TempDir();
        var path = dir.File("flat.pt");
        var sd = FixedStateDict();
        try
        {
            TorchCheckpoint.Save(path, sd);
            var actual = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
            Assert.True(Expected == actual, $"Save wrote a different file: sha256 {actual}");
        }
        finally { TensorAssert.DisposeAll(sd.Values); }
    }

    [Fact]
    public void Nested_graph_round_trips()
    {
        using var scope = NewDisposeScope();
        using var big = arange(0, 12, dtype: ScalarType.Float32).reshape(3, 4);
        var shared = tensor(new[] { 1.5f, -0.0f, float.NaN });
        var root = new OrderedDictionary<string, object?>
        {
            ["f32"] = arange(0, 6, dtype: ScalarType.Float32).reshape(2, 3) / 3,
            ["f16"] = arange(0, 4, dtype: ScalarType.Float16),
            ["transposed"] = big.t(),
            ["scalar"] = tensor(7f),
            ["ints"] = new List<object?> { 0, 255, 256, 65535, 65536, -1, int.MinValue, -3_000_000_000L, long.MaxValue, long.MinValue, (byte)9, 10u },
            ["floats"] = new List<object?> { 0.1, -0.0, double.PositiveInfinity, 1e-300, 2.5f },
            ["tuples"] = new List<object?>
            {
                new PickleTuple(), new PickleTuple("one"), new PickleTuple(1, 2), new PickleTuple(1, 2, 3),
                new PickleTuple(1, null, true, false, "five"), new long[] { 4, 5 },
            },
            ["none"] = null,
            ["yes"] = true,
            ["no"] = false,
            ["text"] = "ünïcödé ✓",
            ["int_keys"] = new Dictionary<int, object?> { [0] = shared, [5] = "x", [-2] = 1.0 },
            ["long_keys"] = new OrderedDictionary<long, object?> { [3] = new List<object?>(), [1] = new Dictionary<string, object?>() },
            ["shared_again"] = shared,
            ["nested"] = new List<object?> { new OrderedDictionary<string, object?> { ["deep"] = new List<object?> { new List<object?> { 1L } } } },
            ["empty_list"] = new List<object?>(),
            ["empty_dict"] = new OrderedDictionary<string, object?>(),
        };
        using var dir = new TempDir();
        var path = dir.File("graph.pt");
        TorchCheckpoint.SaveObject(path, root);
        Assert.Single(Directory.GetFiles(dir.Path));

        var back = Assert.IsType<OrderedDictionary<string, object?>>(TorchCheckpoint.ReadGraph(path));
        Assert.Equal(root.Keys, back.Keys);
        foreach (var name in new[] { "f32", "f16", "transposed", "scalar" })
            TensorAssert.BitEqual((Tensor)root[name]!, (Tensor)back[name]!, name);
        Assert.Equal(new object?[] { 0L, 255L, 256L, 65535L, 65536L, -1L, (long)int.MinValue, -3_000_000_000L, long.MaxValue, long.MinValue, 9L, 10L },
            Assert.IsType<List<object?>>(back["ints"]));
        var floats = Assert.IsType<List<object?>>(back["floats"]);
        Assert.Equal(new object?[] { 0.1, -0.0, double.PositiveInfinity, 1e-300, 2.5 }, floats);
        Assert.True(double.IsNegative((double)floats[1]!));
        var tuples = Assert.IsType<List<object?>>(back["tuples"]);
        Assert.Equal(new object?[] { Array.Empty<object?>(), new object?[] { "one" }, new object?[] { 1L, 2L }, new object?[] { 1L, 2L, 3L },
            new object?[] { 1L, null, true, false, "five" }, new object?[] { 4L, 5L } }, tuples);
        Assert.Null(back["none"]);
        Assert.Equal(true, back["yes"]);
        Assert.Equal(false, back["no"]);
        Assert.Equal("ünïcödé ✓", back["text"]);

        // Integer keys come back as their decimal text (the reader's documented mapping), in insertion order.
        var intKeys = Assert.IsType<OrderedDictionary<string, object?>>(back["int_keys"]);
        Assert.Equal(["0", "5", "-2"], intKeys.Keys);
        TensorAssert.BitEqual(shared, (Tensor)intKeys["0"]!);
        Assert.Equal("x", intKeys["5"]);
        Assert.Equal(1.0, intKeys["-2"]);
        var longKeys = Assert.IsType<OrderedDictionary<string, object?>>(back["long_keys"]);
        Assert.Equal(["3", "1"], longKeys.Keys);
        Assert.Empty(Assert.IsType<List<object?>>(longKeys["3"]));
        Assert.Empty(Assert.IsType<OrderedDictionary<string, object?>>(longKeys["1"]));

        // The same Tensor object twice is one tensor (one storage) in the file, as with torch.save.
        Assert.Same(intKeys["0"], back["shared_again"]);
        using (var zip = ZipFile.OpenRead(path))
            Assert.Equal(5, zip.Entries.Count(e => e.FullName.StartsWith("archive/data/", StringComparison.Ordinal)));

        var nested = Assert.IsType<List<object?>>(back["nested"]);
        var deep = Assert.IsType<OrderedDictionary<string, object?>>(Assert.Single(nested))["deep"];
        Assert.Equal(1L, Assert.Single(Assert.IsType<List<object?>>(Assert.Single(Assert.IsType<List<object?>>(deep)))));
        Assert.Empty(Assert.IsType<List<object?>>(back["empty_list"]));
        Assert.Empty(Assert.IsType<OrderedDictionary<string, object?>>(back["empty_dict"]));
    }

    [Fact]
    public void Roots_other_than_dicts_round_trip()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDir();
        var path = dir.File("root.pt");

        TorchCheckpoint.SaveObject(path, new List<object?> { 1, "two", new PickleTuple(3.0) });
        Assert.Equal(new object?[] { 1L, "two", new object?[] { 3.0 } }, Assert.IsType<List<object?>>(TorchCheckpoint.ReadGraph(path)));
        Assert.Throws<CheckpointFormatException>(() => TorchCheckpoint.ReadObject(path)); // ReadObject still wants a dict

        var t = arange(0, 5, dtype: ScalarType.Int64);
        TorchCheckpoint.SaveObject(path, t);
        TensorAssert.BitEqual(t, Assert.IsAssignableFrom<Tensor>(TorchCheckpoint.ReadGraph(path)));

        TorchCheckpoint.SaveObject(path, null);
        Assert.Null(TorchCheckpoint.ReadGraph(path));

        TorchCheckpoint.SaveObject(path, new PickleTuple(new PickleTuple(), 2L));
        Assert.Equal(new object?[] { Array.Empty<object?>(), 2L }, TorchCheckpoint.ReadGraph(path));
    }

    [Fact]
    public void Flat_state_dict_written_by_SaveObject_loads_as_a_state_dict()
    {
        var sd = FixedStateDict();
        try
        {
            using var dir = new TempDir();
            var path = dir.File("sd.pt");
            TorchCheckpoint.SaveObject(path, sd);
            var loaded = TorchCheckpoint.LoadStateDict(path);
            try { TensorAssert.SameStateDict(sd, loaded); }
            finally { TensorAssert.DisposeAll(loaded.Values); }
        }
        finally { TensorAssert.DisposeAll(sd.Values); }
    }

    [Fact]
    public void Unwritable_graphs_fail_before_the_file_is_touched()
    {
        using var dir = new TempDir();
        var path = dir.File("bad.pt");
        File.WriteAllText(path, "keep me");

        var cyclic = new List<object?> { 1 };
        cyclic.Add(new OrderedDictionary<string, object?> { ["loop"] = cyclic });
        Assert.Contains("cycle", Assert.Throws<ArgumentException>(() => TorchCheckpoint.SaveObject(path, cyclic)).Message);

        var unsupported = new OrderedDictionary<string, object?> { ["a"] = new List<object?> { DateTime.UnixEpoch } };
        Assert.Contains("root['a'][0]", Assert.Throws<ArgumentException>(() => TorchCheckpoint.SaveObject(path, unsupported)).Message);

        var duplicate = new Dictionary<object, object?> { [1] = "int", [1L] = "long" };
        Assert.Contains("appears twice", Assert.Throws<ArgumentException>(() => TorchCheckpoint.SaveObject(path, duplicate)).Message);

        var badKey = new Dictionary<double, object?> { [0.5] = 1 };
        Assert.Contains("keys must be strings or integers", Assert.Throws<ArgumentException>(() => TorchCheckpoint.SaveObject(path, badKey)).Message);

        using (var c = zeros(2, dtype: ScalarType.ComplexFloat32))
            Assert.Contains("not supported", Assert.Throws<ArgumentException>(() => TorchCheckpoint.SaveObject(path, new List<object?> { c })).Message);

        // A container seen twice without a cycle is fine (written twice).
        var twice = new List<object?> { 2 };
        TorchCheckpoint.SaveObject(dir.File("twice.pt"), new PickleTuple(twice, twice));

        Assert.Equal("keep me", File.ReadAllText(path));
        Assert.Equal(2, Directory.GetFiles(dir.Path).Length);
    }
}
