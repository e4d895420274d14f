using System.Numerics;
using ConsistencyModels.IO.Checkpoints;
using Xunit;

namespace ConsistencyModels.Tests.IO.Checkpoints;

public class PickleReaderTests
{
    // CPython 3.11 pickle.dumps(obj, protocol=N) of
    //   od = OrderedDict(first=1, second=[2.5]); od._metadata = {'': {'version': 1}}; shared = [7]
    //   {'ints': [0, 255, 256, 65535, 65536, -1, 2**31-1, -2**31, 2**40, -2**63, 2**63-1], 'big': 2**70,
    //    'floats': [3.5, -0.0, 1e300], 'flags': (True, False, None), 'text': 'ü€', 'raw': b'\x00\xff\x80',
    //    'tuples': ((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)), 'od': od, 'shared_a': shared, 'shared_b': shared, 5: 'int key'}
    private const string Protocol2 = "gAJ9cQAoWAQAAABpbnRzcQFdcQIoSwBL/00AAU3//0oAAAEASv////9K////f0oAAACAigYAAAAAAAGKCAAAAAAAAACAigj/////////f2VYAwAAAGJpZ3EDigkAAAAAAAAAAEBYBgAAAGZsb2F0c3EEXXEFKEdADAAAAAAAAEeAAAAAAAAAAEd+N+Q8iAB1nGVYBQAAAGZsYWdzcQaIiU6HcQdYBAAAAHRleHRxCFgFAAAAw7zigqxxCVgDAAAAcmF3cQpjX2NvZGVjcwplbmNvZGUKcQtYBQAAAADDv8KAcQxYBgAAAGxhdGluMXENhnEOUnEPWAYAAAB0dXBsZXNxECgpSwGFcRFLAUsChnESSwFLAksDh3ETKEsBSwJLA0sEdHEUdHEVWAIAAABvZHEWY2NvbGxlY3Rpb25zCk9yZGVyZWREaWN0CnEXKVJxGChYBQAAAGZpcnN0cRlLAVgGAAAAc2Vjb25kcRpdcRtHQAQAAAAAAABhdX1xHFgJAAAAX21ldGFkYXRhcR19cR5YAAAAAHEffXEgWAcAAAB2ZXJzaW9ucSFLAXNzc2JYCAAAAHNoYXJlZF9hcSJdcSNLB2FYCAAAAHNoYXJlZF9icSRoI0sFWAcAAABpbnQga2V5cSV1Lg==";
    private const string Protocol4 = "gASVagEAAAAAAAB9lCiMBGludHOUXZQoSwBL/00AAU3//0oAAAEASv////9K////f0oAAACAigYAAAAAAAGKCAAAAAAAAACAigj/////////f2WMA2JpZ5SKCQAAAAAAAAAAQIwGZmxvYXRzlF2UKEdADAAAAAAAAEeAAAAAAAAAAEd+N+Q8iAB1nGWMBWZsYWdzlIiJToeUjAR0ZXh0lIwFw7zigqyUjANyYXeUQwMA/4CUjAZ0dXBsZXOUKClLAYWUSwFLAoaUSwFLAksDh5QoSwFLAksDSwR0lHSUjAJvZJSMC2NvbGxlY3Rpb25zlIwLT3JkZXJlZERpY3SUk5QpUpQojAVmaXJzdJRLAYwGc2Vjb25klF2UR0AEAAAAAAAAYXV9lIwJX21ldGFkYXRhlH2UjACUfZSMB3ZlcnNpb26USwFzc3NijAhzaGFyZWRfYZRdlEsHYYwIc2hhcmVkX2KUaCFLBYwHaW50IGtleZR1Lg==";
    private const string Protocol5 = "gAWVagEAAAAAAAB9lCiMBGludHOUXZQoSwBL/00AAU3//0oAAAEASv////9K////f0oAAACAigYAAAAAAAGKCAAAAAAAAACAigj/////////f2WMA2JpZ5SKCQAAAAAAAAAAQIwGZmxvYXRzlF2UKEdADAAAAAAAAEeAAAAAAAAAAEd+N+Q8iAB1nGWMBWZsYWdzlIiJToeUjAR0ZXh0lIwFw7zigqyUjANyYXeUQwMA/4CUjAZ0dXBsZXOUKClLAYWUSwFLAoaUSwFLAksDh5QoSwFLAksDSwR0lHSUjAJvZJSMC2NvbGxlY3Rpb25zlIwLT3JkZXJlZERpY3SUk5QpUpQojAVmaXJzdJRLAYwGc2Vjb25klF2UR0AEAAAAAAAAYXV9lIwJX21ldGFkYXRhlH2UjACUfZSMB3ZlcnNpb26USwFzc3NijAhzaGFyZWRfYZRdlEsHYYwIc2hhcmVkX2KUaCFLBYwHaW50IGtleZR1Lg==";
    // pickle.dumps({'set': {1, 2, 3}, 'frozen': frozenset([4])}, protocol=4)
    private const string Sets4 = "gASVIwAAAAAAAAB9lCiMA3NldJSPlChLAUsCSwOQjAZmcm96ZW6UKEsEkZR1Lg==";
    // pickle.dumps({'a': [1, 2.5, True, 'x'], 'b': (None,)}, protocol=0)
    private const string Protocol0 = "KGRwMApWYQpwMQoobHAyCkkxCmFGMi41CmFJMDEKYVZ4CnAzCmFzVmIKcDQKKE50cDUKcy4=";

    private static object? Load(byte[] pickle) => PickleReader.Load(pickle, "test.pkl", new TorchPickleResolver("test.pkl"));

    private static object? Load(string base64) => Load(Convert.FromBase64String(base64));

    [Theory]
    [InlineData(Protocol2)]
    [InlineData(Protocol4)]
    [InlineData(Protocol5)]
    public void CPython_pickles_decode_to_plain_values(string base64)
    {
        var root = Assert.IsType<OrderedDictionary<string, object?>>(Load(base64));
        Assert.Equal(["ints", "big", "floats", "flags", "text", "raw", "tuples", "od", "shared_a", "shared_b", "5"], root.Keys);
        Assert.Equal(new object[] { 0L, 255L, 256L, 65535L, 65536L, -1L, 2147483647L, -2147483648L, 1L << 40, long.MinValue, long.MaxValue },
                     Assert.IsType<List<object?>>(root["ints"]));
        Assert.Equal(BigInteger.Pow(2, 70), root["big"]);
        var floats = Assert.IsType<List<object?>>(root["floats"]);
        Assert.Equal(3.5, floats[0]);
        Assert.True(double.IsNegative((double)floats[1]!));
        Assert.Equal(1e300, floats[2]);
        Assert.Equal(new object?[] { true, false, null }, root["flags"]);
        Assert.Equal("ü€", root["text"]);
        Assert.Equal(new byte[] { 0x00, 0xff, 0x80 }, root["raw"]); // protocol 2: via _codecs.encode(..., 'latin1')
        var tuples = Assert.IsType<object?[]>(root["tuples"]);
        Assert.Equal([0, 1, 2, 3, 4], tuples.Select(t => ((object?[])t!).Length));
        Assert.Equal(new object?[] { 1L, 2L, 3L, 4L }, tuples[4]);
        // The OrderedDict's BUILD (its _metadata attribute) is tolerated and dropped.
        var od = Assert.IsType<OrderedDictionary<string, object?>>(root["od"]);
        Assert.Equal(["first", "second"], od.Keys);
        Assert.Same(root["shared_a"], root["shared_b"]); // memo keeps object identity
        Assert.Equal("int key", root["5"]);
    }

    [Fact]
    public void Protocol_0_and_sets_decode()
    {
        var p0 = Assert.IsType<OrderedDictionary<string, object?>>(Load(Protocol0));
        Assert.Equal(new object?[] { 1L, 2.5, true, "x" }, Assert.IsType<List<object?>>(p0["a"]));
        Assert.Equal(new object?[] { null }, p0["b"]);

        var sets = Assert.IsType<OrderedDictionary<string, object?>>(Load(Sets4));
        Assert.Equal(new object?[] { 1L, 2L, 3L }, Assert.IsType<List<object?>>(sets["set"]));
        Assert.Equal(new object?[] { 4L }, sets["frozen"]);
    }

    public static TheoryData<string, string> RefusedPickles() => new()
    {
        // GLOBAL 'os system' + REDUCE('ls',): the classic payload.
        { "gAJjb3MKc3lzdGVtCnEAWAIAAABsc3EBhXECUnEDLg==", "os.system" },
        // protocol 4 STACK_GLOBAL builtins.eval
        { Convert.ToBase64String([0x80, 4, 0x8c, 8, .. "builtins"u8, 0x8c, 4, .. "eval"u8, 0x93, 0x8c, 1, (byte)'1', 0x85, (byte)'R', (byte)'.']), "builtins.eval" },
        // INST (protocol 0) names the class inline.
        { Convert.ToBase64String([(byte)'(', .. "Vls\n"u8, (byte)'i', .. "os\nsystem\n"u8, (byte)'.']), "os.system" },
        { Convert.ToBase64String([0x80, 2, (byte)'c', .. "numpy.core.multiarray\n_reconstruct\n"u8, (byte)'.']), "numpy.core.multiarray._reconstruct" },
        { Convert.ToBase64String([0x80, 2, (byte)'c', .. "torch.storage\n_load_from_bytes\n"u8, (byte)'.']), "torch.storage._load_from_bytes" },
        { Convert.ToBase64String([0x80, 2, (byte)'c', .. "__main__\nUNetModel\n"u8, (byte)'.']), "__main__.UNetModel" },
    };

    [Theory]
    [MemberData(nameof(RefusedPickles))]
    public void Globals_outside_the_allow_list_are_refused_by_name(string base64, string global)
    {
        var e = Assert.Throws<CheckpointFormatException>(() => Load(base64));
        Assert.Contains($"refusing to unpickle global '{global}': a checkpoint is data, not code", e.Message);
        Assert.Contains("test.pkl", e.Message);
    }

    [Fact]
    public void Refused_global_inside_a_checkpoint_names_the_file()
    {
        using var dir = new TempDir();
        var path = dir.File("evil.pt");
        TorchZipBuilder.Write(path, Convert.FromBase64String("gAJjb3MKc3lzdGVtCnEAWAIAAABsc3EBhXECUnEDLg=="));
        var e = Assert.Throws<CheckpointFormatException>(() => TorchCheckpoint.LoadStateDict(path));
        Assert.Contains("'os.system'", e.Message);
        Assert.Contains(path, e.Message);
        e = Assert.Throws<CheckpointFormatException>(() => CheckpointFile.LoadStateDict(path));
        Assert.Contains("'os.system'", e.Message);
    }

    [Fact]
    public void Allowed_globals_cannot_be_misused()
    {
        // torch.Tensor is only accepted as an argument; calling it is refused.
        byte[] call = [0x80, 2, (byte)'c', .. "torch\nTensor\n"u8, (byte)')', (byte)'R', (byte)'.'];
        Assert.Contains("cannot be called", Assert.Throws<CheckpointFormatException>(() => Load(call)).Message);
        // _codecs.encode only with latin1.
        var encode = new PickleWriter().Global("_codecs", "encode").Mark().String("x").String("rot13").TupleFromMark().Reduce().Stop().ToArray();
        Assert.Contains("latin1", Assert.Throws<CheckpointFormatException>(() => Load(encode)).Message);
    }

    [Theory]
    [InlineData(new byte[] { 0x80, 2, (byte)'X', 10, 0, 0, 0, (byte)'a' }, "runs past the end")]
    [InlineData(new byte[] { 0x80, 2, (byte)'N' }, "without a STOP")]
    [InlineData(new byte[] { 0x80, 2, (byte)'h', 3, (byte)'.' }, "memo entry 3")]
    [InlineData(new byte[] { 0x80, 2, (byte)'.' }, "stack underflow")]
    [InlineData(new byte[] { 0x80, 2, (byte)'N', (byte)'u', (byte)'.' }, "no MARK")]
    [InlineData(new byte[] { 0x80, 2, 0x97, (byte)'.' }, "unsupported pickle opcode 0x97")]
    [InlineData(new byte[] { 0x80, 9, (byte)'N', (byte)'.' }, "unsupported pickle protocol 9")]
    [InlineData(new byte[] { 0x80, 2, (byte)'N', (byte)'N', (byte)'a', (byte)'.' }, "not a list")]
    public void Malformed_pickles_fail_clearly(byte[] pickle, string expected)
    {
        var e = Assert.Throws<CheckpointFormatException>(() => Load(pickle));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Persistent_ids_must_be_torch_storages()
    {
        var pickle = new PickleWriter().Mark().String("storage").String("not a class").String("0").String("cpu").Int(1)
            .TupleFromMark().BinPersId().Stop().ToArray();
        Assert.Contains("not a storage class", Assert.Throws<CheckpointFormatException>(() => Load(pickle)).Message);
        var other = new PickleWriter().String("anything").BinPersId().Stop().ToArray();
        Assert.Contains("unsupported persistent id", Assert.Throws<CheckpointFormatException>(() => Load(other)).Message);
    }
}
