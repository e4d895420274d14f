// Small crafted checkpoints that would take gigabytes, hours or the process: each is refused with one line.
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using ConsistencyModels.IO;
using ConsistencyModels.IO.Checkpoints;
using Xunit;
using Op = ConsistencyModels.IO.Checkpoints.PickleOpcodes;

namespace ConsistencyModels.Tests.IO.Checkpoints;

public class ResourceBombTests
{
    private static object? Load(byte[] pickle, ReadLimits? limits = null) =>
        PickleReader.Load(pickle, "test.pkl", new TorchPickleResolver("test.pkl"), limits);

    private static void AssertOneShortLine(Exception e, int max = 1000)
    {
        Assert.DoesNotContain('\n', e.Message);
        Assert.True(e.Message.Length < max, $"message of {e.Message.Length} characters");
    }

    /// <summary>{key: None} where key is None wrapped in <paramref name="depth"/> one-tuples.</summary>
    private static byte[] DeepKey(int depth)
    {
        var b = new List<byte> { Op.Proto, 2, Op.EmptyDict, Op.None };
        b.AddRange(Enumerable.Repeat(Op.Tuple1, depth));
        b.AddRange([Op.None, Op.SetItem, Op.Stop]);
        return b.ToArray();
    }

    /// <summary>None, then <paramref name="levels"/> times x → (x, x) through the memo: 2^levels leaves in a few bytes.</summary>
    private static List<byte> DoubledTuple(int levels)
    {
        var b = new List<byte> { Op.None };
        for (int i = 0; i < levels; i++) b.AddRange([Op.BinPut, 0, Op.BinGet, 0, Op.Tuple2]);
        return b;
    }

    [Fact]
    public void A_dict_key_nested_200000_tuples_deep_is_refused_not_a_stack_overflow()
    {
        var e = Assert.Throws<CheckpointFormatException>(() => Load(DeepKey(200_000)));
        Assert.Contains("nested more than 1000", e.Message);
        Assert.Contains("`MaxPickleDepth`", e.Message);
        AssertOneShortLine(e);
        // A real key nests a tuple or two: still read.
        var ok = (OrderedDictionary<string, object?>)Load(DeepKey(3))!;
        Assert.Equal("(((None,),),)", ok.GetAt(0).Key);
    }

    [Fact]
    public void A_deep_key_inside_a_checkpoint_names_the_file()
    {
        using var dir = new TempDir();
        var path = dir.File("deep.pt");
        TorchZipBuilder.Write(path, DeepKey(200_000));
        var e = Assert.Throws<CheckpointFormatException>(() => TorchCheckpoint.ReadGraph(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("`MaxPickleDepth`", e.Message);
    }

    [Fact]
    public void A_memo_shared_tuple_doubled_24_times_as_a_key_is_refused_by_its_length()
    {
        var b = new List<byte> { Op.Proto, 2, Op.EmptyDict };
        b.AddRange(DoubledTuple(24));
        b.AddRange([Op.None, Op.SetItem, Op.Stop]);
        Assert.True(b.Count < 200);
        var e = Assert.Throws<CheckpointFormatException>(() => Load(b.ToArray()));
        Assert.Contains("`MaxPickleKeyLength`", e.Message);
        AssertOneShortLine(e);
    }

    [Fact]
    public void A_memo_shared_tuple_of_tensors_doubled_24_times_is_refused_when_flattened()
    {
        using var dir = new TempDir();
        var path = dir.File("doubled.pt");
        var w = new PickleWriter().EmptyDict().String("t")
            .TensorRef("FloatStorage", "0", 1, 0, [1], [1]);
        var pickle = w.ToArray().ToList();
        for (int i = 0; i < 24; i++) pickle.AddRange([Op.LongBinPut, 0, 0, 0, 1, Op.LongBinGet, 0, 0, 0, 1, Op.Tuple2]);
        pickle.AddRange([Op.SetItem, Op.Stop]);
        TorchZipBuilder.Write(path, pickle.ToArray(), new Dictionary<string, byte[]> { ["0"] = TorchZipBuilder.Floats(1f) });
        var e = Assert.Throws<CheckpointFormatException>(() => TorchCheckpoint.LoadTensors(path));
        Assert.Contains("`MaxPickleObjects`", e.Message);
        AssertOneShortLine(e);
    }

    [Fact]
    public void Object_count_is_bounded()
    {
        // 2000 EMPTY_LISTs appended to one list: one byte each in the file, tens of bytes each in memory.
        var b = new List<byte> { Op.Proto, 2, Op.EmptyList, Op.Mark };
        b.AddRange(Enumerable.Repeat(Op.EmptyList, 2000));
        b.AddRange([Op.Appends, Op.Stop]);
        var limits = ReadLimits.Default with { MaxPickleObjects = 1000 };
        var e = Assert.Throws<CheckpointFormatException>(() => Load(b.ToArray(), limits));
        Assert.Contains("more than 1000 objects", e.Message);
        Assert.Contains("`MaxPickleObjects`", e.Message);
        Assert.Equal(2000, ((List<object?>)Load(b.ToArray())!).Count); // the default is far above that

        // Memo writes cost memory too: MEMOIZE adds an entry each time.
        var memo = new List<byte> { Op.Proto, 4, Op.None };
        memo.AddRange(Enumerable.Repeat(Op.Memoize, 2000));
        memo.Add(Op.Stop);
        Assert.Contains("`MaxPickleObjects`", Assert.Throws<CheckpointFormatException>(() => Load(memo.ToArray(), limits)).Message);
    }

    [Fact]
    public void A_text_integer_of_100000_digits_is_refused_before_parsing()
    {
        var pickle = new List<byte> { Op.Proto, 2, Op.Long };
        pickle.AddRange(Enumerable.Repeat((byte)'7', 100_000));
        pickle.AddRange("L\n."u8.ToArray());
        var sw = Stopwatch.StartNew();
        var e = Assert.Throws<CheckpointFormatException>(() => Load(pickle.ToArray()));
        Assert.Contains("`MaxIntegerDigits`", e.Message);
        AssertOneShortLine(e);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5));
        // Ordinary text integers still parse, big ones too.
        Assert.Equal(123L, Load(Encoding.Latin1.GetBytes("\x80\x02L123L\n.")));
        Assert.Equal(System.Numerics.BigInteger.Pow(10, 30), Load(Encoding.Latin1.GetBytes("\x80\x02L1" + new string('0', 30) + "L\n.")));
    }

    [Fact]
    public void Messages_that_quote_the_file_are_short_single_lines()
    {
        var junk = new string('x', 1_000_000) + "\r\u001b[31m";
        var badInt = Encoding.Latin1.GetBytes("\x80\x02I" + junk[^4000..] + "\n.");
        var e = Assert.Throws<CheckpointFormatException>(() => Load(badInt));
        Assert.Contains("bad integer literal", e.Message);
        AssertOneShortLine(e);
        byte[] badGlobal = [Op.Proto, 2, Op.Global, .. Encoding.Latin1.GetBytes(junk + "\nname\n.")];
        e = Assert.Throws<CheckpointFormatException>(() => Load(badGlobal));
        Assert.Contains("refusing to unpickle global", e.Message);
        Assert.DoesNotContain('\u001b', e.Message);
        AssertOneShortLine(e);
    }

    [Fact]
    public void A_stride_0_view_of_2_to_the_29_elements_in_a_tiny_file_is_refused()
    {
        using var dir = new TempDir();
        var path = dir.File("expand.pt");
        var pickle = new PickleWriter().EmptyDict().String("w")
            .TensorRef("FloatStorage", "0", 1, 0, [1L << 29], [0]).SetItem().Stop().ToArray();
        TorchZipBuilder.Write(path, pickle, new Dictionary<string, byte[]> { ["0"] = TorchZipBuilder.Floats(1f) });
        Assert.True(new FileInfo(path).Length < 2000);
        var e = Assert.Throws<CheckpointFormatException>(() => TorchCheckpoint.LoadStateDict(path));
        Assert.Contains("tensor 'w'", e.Message);
        Assert.Contains("`MaxExpandedTensorBytes`", e.Message);
        AssertOneShortLine(e);

        // A small expanded view (what torch.save writes for x.expand(...)) is still read, as before.
        var small = dir.File("small.pt");
        var p2 = new PickleWriter().EmptyDict().String("w")
            .TensorRef("FloatStorage", "0", 1, 0, [3, 4], [0, 0]).SetItem().Stop().ToArray();
        TorchZipBuilder.Write(small, p2, new Dictionary<string, byte[]> { ["0"] = TorchZipBuilder.Floats(2.5f) });
        using var t = TorchCheckpoint.LoadStateDict(small)["w"];
        Assert.Equal([3L, 4L], t.shape);
        Assert.Equal(2.5f, t[2, 3].item<float>());
    }

    [Fact]
    public void A_failed_allocation_is_one_line_naming_the_tensor()
    {
        using var dir = new TempDir();
        var path = dir.File("huge.pt");
        // 2^50 floats (4 PiB): beyond any address space, so the allocation fails whatever the overcommit policy.
        var pickle = new PickleWriter().EmptyDict().String("big.weight")
            .TensorRef("FloatStorage", "0", 1, 0, [1L << 25, 1L << 25], [0, 0]).SetItem().Stop().ToArray();
        TorchZipBuilder.Write(path, pickle, new Dictionary<string, byte[]> { ["0"] = TorchZipBuilder.Floats(1f) });
        var e = Assert.Throws<CheckpointFormatException>(() => TorchCheckpoint.LoadStateDict(path));
        Assert.Contains("`MaxExpandedTensorBytes`", e.Message);

        var unlimited = ReadLimits.Default with { MaxExpandedTensorBytes = long.MaxValue };
        e = Assert.Throws<CheckpointFormatException>(() => TorchCheckpoint.LoadStateDict(path, limits: unlimited));
        Assert.Contains("tensor 'big.weight'", e.Message);
        Assert.Contains("cannot allocate", e.Message);
        AssertOneShortLine(e);
    }

    [Fact]
    public void One_tensor_under_many_names_is_copied_only_within_the_limit()
    {
        using var dir = new TempDir();
        var path = dir.File("tied.pt");
        var w = new PickleWriter().EmptyDict().String("a").TensorRef("FloatStorage", "0", 1 << 16, 0, [1 << 16], [1]).Memoize(out int t).SetItem();
        for (int i = 0; i < 8; i++) w.String($"b{i}").MemoGet(t).SetItem();
        TorchZipBuilder.Write(path, w.Stop().ToArray(), new Dictionary<string, byte[]> { ["0"] = new byte[4 << 16] });
        var limits = ReadLimits.Default with { MaxExpandedTensorBytes = 4 * (4 << 16) };
        var e = Assert.Throws<CheckpointFormatException>(() => TorchCheckpoint.LoadStateDict(path, limits: limits));
        Assert.Contains("tensor 'b4'", e.Message);
        Assert.Contains("`MaxExpandedTensorBytes`", e.Message);
        Assert.Contains("`MaxExpandedTensorBytes`", Assert.Throws<CheckpointFormatException>(() => TorchCheckpoint.LoadTensors(path, limits)).Message);
        var all = TorchCheckpoint.LoadStateDict(path); // within the default
        Assert.Equal(9, all.Count);
        foreach (var x in all.Values) x.Dispose();
    }

    private static void WriteZip(string path, params (string Name, byte[] Data, CompressionLevel Level)[] entries)
    {
        using var fs = File.Create(path);
        using var zip = new ZipArchive(fs, ZipArchiveMode.Create);
        foreach (var (name, data, level) in entries)
        {
            using var s = zip.CreateEntry(name, level).Open();
            s.Write(data);
        }
    }

    private static byte[] OneTensorPickle(long numel) =>
        new PickleWriter().EmptyDict().String("w").TensorRef("FloatStorage", "0", numel, 0, [numel], [1]).SetItem().Stop().ToArray();

    [Fact]
    public void Deflated_records_beyond_the_limit_are_refused()
    {
        using var dir = new TempDir();
        const int Numel = 1 << 18; // 1 MiB of zeros deflates to about 1 KB
        var limits = ReadLimits.Default with { MaxDeflatedRecordBytes = 64 << 10 };
        var storage = dir.File("storage.pt");
        WriteZip(storage, ("archive/data.pkl", OneTensorPickle(Numel), CompressionLevel.NoCompression),
                 ("archive/data/0", new byte[4 * Numel], CompressionLevel.Optimal));
        Assert.True(new FileInfo(storage).Length < 8 << 10);
        var e = Assert.Throws<CheckpointFormatException>(() => TorchCheckpoint.LoadStateDict(storage, limits: limits));
        Assert.Contains("archive/data/0", e.Message);
        Assert.Contains("`MaxDeflatedRecordBytes`", e.Message);
        AssertOneShortLine(e);
        using (var t = TorchCheckpoint.LoadStateDict(storage)["w"]) Assert.Equal(Numel, t.numel()); // within the default

        // The pickle itself: 40 MB of EMPTY_LIST would deflate to 41 KB.
        var pickle = new byte[128 << 10];
        pickle.AsSpan().Fill(Op.EmptyList);
        pickle[0] = Op.Proto; pickle[1] = 2;
        var pkl = dir.File("pickle.pt");
        WriteZip(pkl, ("archive/data.pkl", pickle, CompressionLevel.Optimal));
        e = Assert.Throws<CheckpointFormatException>(() => TorchCheckpoint.ReadGraph(pkl, limits));
        Assert.Contains("archive/data.pkl", e.Message);
        Assert.Contains("`MaxDeflatedRecordBytes`", e.Message);
    }

    [Fact]
    public void Duplicate_records_are_refused()
    {
        using var dir = new TempDir();
        var path = dir.File("dup.pt");
        WriteZip(path, ("archive/data.pkl", OneTensorPickle(1), CompressionLevel.NoCompression),
                 ("archive/data/0", TorchZipBuilder.Floats(1f), CompressionLevel.NoCompression),
                 ("archive/data/0", TorchZipBuilder.Floats(2f), CompressionLevel.NoCompression));
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointFile.LoadStateDict(path));
        Assert.Contains("'archive/data/0' appears twice", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public async Task A_fifo_given_as_a_checkpoint_is_refused_instead_of_blocking()
    {
        if (OperatingSystem.IsWindows()) return;
        using var dir = new TempDir();
        var fifo = dir.File("model.pt");
        using (var mk = Process.Start("mkfifo", [fifo])) mk.WaitForExit();
        Assert.True(File.Exists(fifo));
        foreach (var load in new Func<object>[] { () => CheckpointFile.LoadStateDict(fifo), () => TorchCheckpoint.LoadStateDict(fifo), () => Safetensors.Load(fifo) })
        {
            var task = Task.Run(load);
            Assert.True(await Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(20))) == task, "reading a FIFO blocked");
            var e = Assert.IsType<CheckpointFormatException>(task.Exception!.InnerException);
            Assert.Contains("not a regular file", e.Message);
            Assert.Contains(fifo, e.Message);
        }
    }
}
