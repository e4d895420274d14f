using ConsistencyModels.IO.Checkpoints;
using Xunit;
using static TorchSharp.torch;
using B = ConsistencyModels.Tests.IO.Checkpoints.TorchZipBuilder;

namespace ConsistencyModels.Tests.IO.Checkpoints;

/// <summary>Hand-made archives with the storage layouts torch.save can produce: views, offsets, sharing, nesting.</summary>
public class TorchReaderLayoutTests
{
    private static float[] Values(Tensor t) => t.contiguous().data<float>().ToArray();

    [Fact]
    public void Strided_offset_and_shared_views_are_honoured()
    {
        using var dir = new TempDir();
        var path = dir.File("views.pt");
        var w = new PickleWriter();
        w.Global("collections", "OrderedDict").EmptyTuple().Reduce().Mark();
        w.String("transposed").TensorRef("FloatStorage", "s", 10, 0, [3, 2], [1, 3]);
        w.String("window").TensorRef("FloatStorage", "s", 10, 2, [2, 2], [2, 1]);
        w.String("every_third").TensorRef("FloatStorage", "s", 10, 1, [3], [3]);
        w.String("expanded").TensorRef("FloatStorage", "s", 10, 4, [2, 3], [0, 1]);
        w.String("scalar").TensorRef("FloatStorage", "s", 10, 9, [], []);
        w.String("own").TensorRef("FloatStorage", "t", 2, 0, [2], [1]);
        w.SetItems().Stop();
        B.Write(path, w.ToArray(), new Dictionary<string, byte[]>
        {
            ["s"] = B.Floats(0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
            ["t"] = B.Floats(-1, -2),
        });

        var sd = TorchCheckpoint.LoadStateDict(path);
        try
        {
            Assert.Equal([0f, 3, 1, 4, 2, 5], Values(sd["transposed"]));
            Assert.Equal([3L, 2], sd["transposed"].shape);
            Assert.Equal([2f, 3, 4, 5], Values(sd["window"]));
            Assert.Equal([1f, 4, 7], Values(sd["every_third"]));
            Assert.Equal([4f, 5, 6, 4, 5, 6], Values(sd["expanded"]));
            Assert.Equal(9f, sd["scalar"].item<float>());
            Assert.Empty(sd["scalar"].shape);
            Assert.Equal([-1f, -2], Values(sd["own"]));
            TensorAssert.NoAliasing(sd.Values);
        }
        finally { TensorAssert.DisposeAll(sd.Values); }
    }

    [Fact]
    public void Disjoint_blocks_of_one_flat_buffer_load_exactly_and_unused_bytes_are_still_checked()
    {
        // The official fp16-trained layout: every parameter a compact block of one flat buffer, with gaps between
        // them. These blocks are read straight into their own tensors; the bytes between them must still pass the CRC.
        using var dir = new TempDir();
        var path = dir.File("flat.pt");
        var w = new PickleWriter();
        w.Global("collections", "OrderedDict").EmptyTuple().Reduce().Mark();
        w.String("b").TensorRef("FloatStorage", "s", 12, 6, [3], [1]);
        w.String("a").TensorRef("FloatStorage", "s", 12, 1, [2, 2], [2, 1]);
        w.String("c").TensorRef("FloatStorage", "s", 12, 10, [1, 2], [99, 1]);   // a size-1 dimension may have any stride
        w.String("empty").TensorRef("FloatStorage", "s", 12, 0, [0], [1]);
        w.SetItems().Stop();
        var storage = B.Floats(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);
        B.Write(path, w.ToArray(), new Dictionary<string, byte[]> { ["s"] = storage });

        var sd = TorchCheckpoint.LoadStateDict(path);
        try
        {
            Assert.Equal(["b", "a", "c", "empty"], sd.Keys);
            Assert.Equal([6f, 7, 8], Values(sd["b"]));
            Assert.Equal([1f, 2, 3, 4], Values(sd["a"]));
            Assert.Equal([2L, 2], sd["a"].shape);
            Assert.Equal([10f, 11], Values(sd["c"]));
            Assert.Equal([1L, 2], sd["c"].shape);
            Assert.Empty(Values(sd["empty"]));
            TensorAssert.NoAliasing(sd.Values);
        }
        finally { TensorAssert.DisposeAll(sd.Values); }

        // Flip a bit of element 5, which no view uses.
        var bytes = File.ReadAllBytes(path);
        int at = bytes.AsSpan().IndexOf(storage);
        bytes[at + 5 * 4] ^= 1;
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<CheckpointFormatException>(() => TorchCheckpoint.LoadStateDict(path));
        Assert.Contains("CRC-32", e.Message);
    }

    [Fact]
    public void A_tensor_referenced_twice_loads_as_two_independent_tensors()
    {
        using var dir = new TempDir();
        var path = dir.File("tied.pt");
        // Tied weights: torch.save memoises the tensor object and refers to it again with BINGET.
        var w = new PickleWriter();
        w.Global("collections", "OrderedDict").EmptyTuple().Reduce().Mark();
        w.String("embed.weight").TensorRef("FloatStorage", "0", 2, 0, [2], [1]);
        var head = w.ToArray();
        // BINPUT 200 after the tensor, then key and BINGET 200.
        var pickle = head.Concat(new byte[] { 0x71, 200 }).ToList();
        var tail = new PickleWriter();
        tail.String("head.weight");
        pickle.AddRange(tail.ToArray()[2..]); // without its PROTO header
        pickle.AddRange(new byte[] { 0x68, 200, (byte)'u', (byte)'.' });
        B.Write(path, pickle.ToArray(), new Dictionary<string, byte[]> { ["0"] = B.Floats(1, 2) });

        var sd = TorchCheckpoint.LoadStateDict(path);
        try
        {
            Assert.Equal(["embed.weight", "head.weight"], sd.Keys);
            TensorAssert.BitEqual(sd["embed.weight"], sd["head.weight"]);
            TensorAssert.NoAliasing(sd.Values);
        }
        finally { TensorAssert.DisposeAll(sd.Values); }
    }

    [Fact]
    public void Views_outside_the_storage_are_rejected()
    {
        using var dir = new TempDir();
        var path = dir.File("oob.pt");
        var w = new PickleWriter();
        w.Global("collections", "OrderedDict").EmptyTuple().Reduce().Mark();
        w.String("bad").TensorRef("FloatStorage", "0", 4, 2, [2, 2], [2, 1]); // needs elements 2..5 of 4
        w.SetItems().Stop();
        B.Write(path, w.ToArray(), new Dictionary<string, byte[]> { ["0"] = B.Floats(1, 2, 3, 4) });
        var e = Assert.Throws<CheckpointFormatException>(() => TorchCheckpoint.LoadStateDict(path));
        Assert.Contains("storage holds 4 elements", e.Message);
    }

    [Fact]
    public void Short_or_missing_storage_records_are_reported()
    {
        using var dir = new TempDir();
        var w = new PickleWriter();
        w.Global("collections", "OrderedDict").EmptyTuple().Reduce().Mark();
        w.String("w").TensorRef("FloatStorage", "0", 4, 0, [4], [1]);
        w.SetItems().Stop();
        var pickle = w.ToArray();

        B.Write(dir.File("short.pt"), pickle, new Dictionary<string, byte[]> { ["0"] = B.Floats(1, 2, 3) });
        var e = Assert.Throws<CheckpointFormatException>(() => TorchCheckpoint.LoadStateDict(dir.File("short.pt")));
        Assert.Contains("truncated", e.Message);
        Assert.Contains("short.pt", e.Message);

        B.Write(dir.File("missing.pt"), pickle);
        e = Assert.Throws<CheckpointFormatException>(() => TorchCheckpoint.LoadStateDict(dir.File("missing.pt")));
        Assert.Contains("archive/data/0", e.Message);
    }

    /// <summary>{"model": {...}, "ema": {...}, "step": 5, "optimizer": {"state": {0: {...}}, "param_groups": [{"lr": 0.1}]}}</summary>
    private static void WriteTrainingCheckpoint(string path, string modelPrefix = "")
    {
        var w = new PickleWriter();
        w.EmptyDict().Mark();
        w.String("model").EmptyDict().Mark();
        w.String(modelPrefix + "conv.weight").TensorRef("FloatStorage", "0", 2, 0, [2], [1]);
        w.String(modelPrefix + "conv.bias").TensorRef("FloatStorage", "1", 1, 0, [1], [1]);
        w.SetItems();
        w.String("ema").EmptyDict().Mark();
        w.String("conv.weight").TensorRef("FloatStorage", "2", 2, 0, [2], [1]);
        w.SetItems();
        w.String("step").Int(5);
        w.String("optimizer").EmptyDict().Mark();
        w.String("state").EmptyDict().Int(0).EmptyDict().String("exp_avg").TensorRef("FloatStorage", "3", 2, 0, [2], [1]).SetItem().SetItem();
        w.String("param_groups").EmptyList().EmptyDict().String("lr").Float(0.1).SetItem().Append();
        w.SetItems();
        w.String("device").Global("torch", "device").Mark().String("cuda").Int(0).TupleFromMark().Reduce();
        w.SetItems().Stop();
        B.Write(path, w.ToArray(), new Dictionary<string, byte[]>
        {
            ["0"] = B.Floats(1, 2), ["1"] = B.Floats(3), ["2"] = B.Floats(4, 5), ["3"] = B.Floats(6, 7),
        }, archive: "training_run");
    }

    [Fact]
    public void ReadObject_exposes_nested_values()
    {
        using var dir = new TempDir();
        var path = dir.File("train.pt");
        WriteTrainingCheckpoint(path);
        var root = TorchCheckpoint.ReadObject(path);
        var tensors = TorchCheckpoint.LoadTensors(path);
        try
        {
            Assert.Equal(["model", "ema", "step", "optimizer", "device"], root.Keys);
            Assert.Equal(5L, root["step"]);
            Assert.Equal("cuda:0", root["device"]);
            var optimizer = Assert.IsType<OrderedDictionary<string, object?>>(root["optimizer"]);
            var groups = Assert.IsType<List<object?>>(optimizer["param_groups"]);
            Assert.Equal(0.1, Assert.IsType<OrderedDictionary<string, object?>>(groups[0])["lr"]);
            Assert.IsType<Tensor>(((OrderedDictionary<string, object?>)((OrderedDictionary<string, object?>)optimizer["state"]!)["0"]!)["exp_avg"]);

            Assert.Equal(["model.conv.weight", "model.conv.bias", "ema.conv.weight", "optimizer.state.0.exp_avg"], tensors.Keys);
            Assert.Equal([6f, 7], Values(tensors["optimizer.state.0.exp_avg"]));
        }
        finally
        {
            TensorAssert.DisposeAll(Collect(root));
            TensorAssert.DisposeAll(tensors.Values);
        }
    }

    private static IEnumerable<Tensor> Collect(object? node) => node switch
    {
        Tensor t => [t],
        IReadOnlyDictionary<string, object?> d => d.Values.SelectMany(Collect),
        List<object?> l => l.SelectMany(Collect),
        _ => [],
    };

    [Fact]
    public void LoadStateDict_finds_the_model_entry_or_the_named_one()
    {
        using var dir = new TempDir();
        var path = dir.File("train.pt");
        WriteTrainingCheckpoint(path);

        var model = TorchCheckpoint.LoadStateDict(path);
        var ema = TorchCheckpoint.LoadStateDict(path, "ema");
        var nested = TorchCheckpoint.LoadStateDict(path, "optimizer.state.0");
        try
        {
            Assert.Equal(["conv.weight", "conv.bias"], model.Keys);
            Assert.Equal([1f, 2], Values(model["conv.weight"]));
            Assert.Equal(["conv.weight"], ema.Keys);
            Assert.Equal([4f, 5], Values(ema["conv.weight"]));
            Assert.Equal(["exp_avg"], nested.Keys);
        }
        finally
        {
            TensorAssert.DisposeAll(model.Values);
            TensorAssert.DisposeAll(ema.Values);
            TensorAssert.DisposeAll(nested.Values);
        }
    }

    [Fact]
    public void LoadStateDict_errors_name_the_available_entries()
    {
        using var dir = new TempDir();
        var path = dir.File("train.pt");
        WriteTrainingCheckpoint(path);
        var e = Assert.Throws<CheckpointFormatException>(() => TorchCheckpoint.LoadStateDict(path, "weights"));
        Assert.Contains("'weights'", e.Message);
        Assert.Contains("'model' (dict of 2 tensors)", e.Message);
        Assert.Contains("'step' (int)", e.Message);

        e = Assert.Throws<CheckpointFormatException>(() => TorchCheckpoint.LoadStateDict(path, "step"));
        Assert.Contains("not a state dict", e.Message);

        // Two anonymous tensor dicts: ambiguous.
        var w = new PickleWriter();
        w.EmptyDict().Mark();
        w.String("a").EmptyDict().String("x").TensorRef("FloatStorage", "0", 1, 0, [1], [1]).SetItem();
        w.String("b").EmptyDict().String("x").TensorRef("FloatStorage", "1", 1, 0, [1], [1]).SetItem();
        w.String("n").Int(1);
        w.SetItems().Stop();
        B.Write(dir.File("two.pt"), w.ToArray(), new Dictionary<string, byte[]> { ["0"] = B.Floats(1), ["1"] = B.Floats(2) });
        e = Assert.Throws<CheckpointFormatException>(() => TorchCheckpoint.LoadStateDict(dir.File("two.pt")));
        Assert.Contains("'a', 'b'", e.Message);
        Assert.Contains("pass the key", e.Message);
    }

    [Fact]
    public void DataParallel_prefix_is_removed()
    {
        using var dir = new TempDir();
        var path = dir.File("dp.pt");
        WriteTrainingCheckpoint(path, modelPrefix: "module.");
        var sd = TorchCheckpoint.LoadStateDict(path);
        try { Assert.Equal(["conv.weight", "conv.bias"], sd.Keys); }
        finally { TensorAssert.DisposeAll(sd.Values); }
    }

    [Fact]
    public void Parameters_and_tensor_subclass_wrappers_load_as_tensors()
    {
        using var dir = new TempDir();
        var path = dir.File("params.pt");
        var w = new PickleWriter();
        w.Global("collections", "OrderedDict").EmptyTuple().Reduce().Mark();
        // torch.nn.Parameter: _rebuild_parameter(tensor, requires_grad, hooks)
        w.String("p").Global("torch._utils", "_rebuild_parameter").Mark()
         .TensorRef("HalfStorage", "0", 2, 0, [2], [1]).Bool(true).Global("collections", "OrderedDict").EmptyTuple().Reduce()
         .TupleFromMark().Reduce();
        // _rebuild_from_type_v2(_rebuild_tensor_v2, torch.Tensor, args, state)
        w.String("sub").Global("torch._tensor", "_rebuild_from_type_v2").Mark()
         .Global("torch._utils", "_rebuild_tensor_v2").Global("torch", "Tensor")
         .Mark().Mark().String("storage").Global("torch", "LongStorage").String("1").String("cpu").Int(1).TupleFromMark().BinPersId()
         .Int(0).IntTuple([1]).IntTuple([1]).Bool(false).Global("collections", "OrderedDict").EmptyTuple().Reduce().TupleFromMark()
         .EmptyDict().TupleFromMark().Reduce();
        w.SetItems().Stop();
        B.Write(path, w.ToArray(), new Dictionary<string, byte[]>
        {
            ["0"] = [0x00, 0x3c, 0x00, 0xc0], // float16 1.0, -2.0
            ["1"] = BitConverter.GetBytes(-5L),
        });
        var sd = TorchCheckpoint.LoadStateDict(path);
        try
        {
            Assert.Equal(ScalarType.Float16, sd["p"].dtype);
            Assert.Equal([1f, -2f], sd["p"].to(ScalarType.Float32).data<float>().ToArray());
            Assert.False(sd["p"].requires_grad);
            Assert.Equal(-5L, sd["sub"].item<long>());
        }
        finally { TensorAssert.DisposeAll(sd.Values); }
    }
}
