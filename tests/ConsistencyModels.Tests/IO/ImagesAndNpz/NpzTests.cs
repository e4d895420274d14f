using Xunit;
using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using ConsistencyModels.IO.Numpy;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.IO.ImagesAndNpz;

public class NpzTests
{
    [Fact]
    public void RoundTrip_u1_i8_f4()
    {
        using var tmp = new TempDir();
        var u1 = NpyArray.Create<byte>("images", Enumerable.Range(0, 2 * 3 * 4 * 3).Select(i => (byte)(i * 7)).ToArray(), 2, 3, 4, 3);
        var i8 = NpyArray.Create<long>("labels", new long[] { 3, 917, 0, long.MinValue, long.MaxValue }, 5);
        var f4 = NpyArray.Create<float>("x", new[] { 0f, -1.5f, float.NaN, float.PositiveInfinity, 1e-30f, 3.25f }, 2, 3);
        var scalar = NpyArray.Create<double>("s", new[] { Math.PI });
        var path = tmp.File("sub/dir/out.npz"); // parent directories are created

        Npz.Write(path, u1, i8, f4, scalar);
        var back = Npz.Read(path);

        Assert.Equal(new[] { "images", "labels", "x", "s" }, back.Keys);
        foreach (var a in new[] { u1, i8, f4, scalar })
            Assert.True(a.ContentEquals(back[a.Name]), a.Name);
        Assert.Empty(back["s"].Shape);
        Assert.Equal(new long[] { 3, 917, 0, long.MinValue, long.MaxValue }, back["labels"].ToArray<long>());
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "*.tmp")); // temp file renamed away
    }

    [Fact]
    public void TinyArray_HasNumpySaveLayout()
    {
        var a = NpyArray.Create<long>("arr_0", new long[] { 1, 2 }, 2);
        var npy = Npy.Header(a);

        Assert.Equal(Npy.Magic, npy[..6]);
        Assert.Equal(new byte[] { 1, 0 }, npy[6..8]);
        var hlen = BinaryPrimitives.ReadUInt16LittleEndian(npy.AsSpan(8));
        Assert.Equal(npy.Length - 10, hlen);
        Assert.Equal(0, (10 + hlen) % 64);
        var text = Encoding.Latin1.GetString(npy, 10, hlen);
        const string dict = "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }";
        Assert.StartsWith(dict, text);
        Assert.EndsWith("\n", text);
        Assert.True(text[dict.Length..^1].All(ch => ch == ' '));
        // 57-char dict + 20 growth spaces (recent numpy) + '\n' = 78; 10 + 78 = 88 -> pad 40 -> 128 bytes in all.
        Assert.Equal(118, hlen);

        using var tmp = new TempDir();
        var path = tmp.File("tiny.npz");
        Npz.Write(path, a);
        var bytes = File.ReadAllBytes(path);
        // Local header as CPython's zipfile writes it for numpy.savez: v2.0, stored, 1980-01-01, zip64 extra.
        Assert.Equal(new byte[] { 0x50, 0x4b, 3, 4, 20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0 }, bytes[..14]);
        Assert.Equal(144u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(18)));
        Assert.Equal("arr_0.npy", Encoding.ASCII.GetString(bytes, 30, 9));
        Assert.Equal(20, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(28)));
        Assert.Equal(npy, bytes[59..(59 + 128)]);
        Assert.Equal(new long[] { 1, 2 }, new[] { BitConverter.ToInt64(bytes, 187), BitConverter.ToInt64(bytes, 195) });
        // 59 + 144 local, 55 central directory, 22 end record.
        Assert.Equal(59 + 144 + 55 + 22, bytes.Length);
        using var zip = new ZipArchive(new MemoryStream(bytes));
        Assert.Equal("arr_0.npy", Assert.Single(zip.Entries).FullName);
    }

    [SkippableFact]
    public void Reads_NumpyFixture_ShapesAndLabels()
    {
        var path = FixturePaths.Require("e2e/e2e_im64_onestep_determ.npz");

        var npz = Npz.Read(path);
        Assert.Equal(new[] { "arr_0", "arr_1" }, npz.Keys);
        Assert.Equal(NpyDtype.UInt8, npz["arr_0"].Dtype);
        Assert.Equal(new long[] { 4, 64, 64, 3 }, npz["arr_0"].Shape);
        Assert.Equal(NpyDtype.Int64, npz["arr_1"].Dtype);
        Assert.Equal(new long[] { 4 }, npz["arr_1"].Shape);
        Assert.Equal(new long[] { 3, 917, 0, 999 }, npz["arr_1"].ToArray<long>());

        using var labels = npz["arr_1"].ToTensor();
        Assert.Equal(ScalarType.Int64, labels.dtype);
        Assert.Equal(917L, labels[1].item<long>());
        using var images = npz["arr_0"].ToTensor();
        Assert.Equal(new long[] { 4, 64, 64, 3 }, images.shape);
        Assert.Equal(npz["arr_0"].Data[12345], images.flatten()[12345].item<byte>());
    }

    [SkippableFact]
    public void Rewriting_NumpyFixtures_IsByteIdentical()
    {
        foreach (var name in new[] { "e2e_im64_onestep_determ", "e2e_im64_edm_heun_determ", "e2e_im64_multistep_determ_2batches", "e2e_lsun_onestep_indiv" })
        {
            var path = FixturePaths.Require($"e2e/{name}.npz");
            using var tmp = new TempDir();
            var copy = tmp.File("copy.npz");
            Npz.Write(copy, Npz.Read(path).Values.ToArray());
            Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(copy));
        }
    }

    [Fact]
    public void Reads_DeflatedEntries_And_Npy_v2_v3()
    {
        using var tmp = new TempDir();
        var a = NpyArray.Create<short>("a", new short[] { 1, -2, 3, -4, 5, -6 }, 3, 2);
        var b = NpyArray.Create<Half>("b", new[] { (Half)1.5, (Half)(-2) }, 2);
        var path = tmp.File("compressed.npz");
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        {
            using (var s = zip.CreateEntry("a.npy", CompressionLevel.Optimal).Open())
                s.Write(WithVersion(a, 2));
            using (var s = zip.CreateEntry("b.npy", CompressionLevel.Optimal).Open())
                s.Write(WithVersion(b, 3));
            zip.CreateEntry("notes.txt");
        }
        var back = Npz.Read(path);
        Assert.Equal(new[] { "a", "b" }, back.Keys.Order());
        Assert.True(a.ContentEquals(back["a"]));
        Assert.True(b.ContentEquals(back["b"]));
    }

    [Fact]
    public void Errors_AreClear()
    {
        using var tmp = new TempDir();
        var txt = tmp.File("x.txt");
        File.WriteAllText(txt, "hello");
        var e1 = Assert.Throws<InvalidDataException>(() => Npz.Read(txt));
        Assert.Contains("is not an npz (zip) archive", e1.Message);

        var npy = tmp.File("one.npy");
        Npy.Write(npy, NpyArray.Create<float>("one", new[] { 1f }, 1));
        Assert.Contains("use Npy.Read", Assert.Throws<InvalidDataException>(() => Npz.Read(npy)).Message);
        Assert.Equal(new[] { 1f }, Npy.Read(npy).ToArray<float>());

        Assert.Throws<FileNotFoundException>(() => Npz.Read(tmp.File("missing.npz")));

        var fortran = tmp.File("f.npy");
        File.WriteAllBytes(fortran, RawNpy("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", new byte[4]));
        Assert.Contains("Fortran order", Assert.Throws<NotSupportedException>(() => Npy.Read(fortran)).Message);

        var bigEndian = tmp.File("be.npy");
        File.WriteAllBytes(bigEndian, RawNpy("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", new byte[4]));
        Assert.Contains("Big-endian", Assert.Throws<NotSupportedException>(() => Npy.Read(bigEndian)).Message);

        var truncated = tmp.File("t.npy");
        File.WriteAllBytes(truncated, RawNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", new byte[9]));
        Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => Npy.Read(truncated)).Message);

        Assert.Throws<ArgumentException>(() => new NpyArray("bad", NpyDtype.Float32, [2], new byte[4]));
        var dup = NpyArray.Create<byte>("same", new byte[] { 1 }, 1);
        Assert.Throws<ArgumentException>(() => Npz.Write(tmp.File("dup.npz"), dup, dup));
    }

    [Theory]
    [InlineData(ScalarType.Byte)]
    [InlineData(ScalarType.Int64)]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float64)]
    [InlineData(ScalarType.Float16)]
    public void Tensor_RoundTrip(ScalarType type)
    {
        using var src = arange(0, 24, dtype: ScalarType.Float32).reshape(2, 3, 4).to_type(type);
        using var strided = src.permute(2, 0, 1); // non-contiguous: must come out in C order of the view
        var a = NpyArray.FromTensor("t", strided);
        Assert.Equal(new long[] { 4, 2, 3 }, a.Shape);
        using var back = a.ToTensor();
        Assert.Equal(type, back.dtype);
        Assert.True(Same(back, strided));
    }

    [Fact]
    public void EmptyArray_RoundTrips()
    {
        using var tmp = new TempDir();
        var empty = NpyArray.Create<long>("arr_1", ReadOnlySpan<long>.Empty, 0);
        Npz.Write(tmp.File("e.npz"), empty);
        var back = Npz.Read(tmp.File("e.npz"))["arr_1"];
        Assert.Equal(new long[] { 0 }, back.Shape);
        using var t = back.ToTensor();
        Assert.Equal(0, t.numel());
    }

    /// <summary>The same array with a version 2.0 or 3.0 header (4-byte length), as numpy writes for huge headers.</summary>
    static byte[] WithVersion(NpyArray a, byte major)
    {
        var v1 = Npy.Header(a);
        int hlen = BinaryPrimitives.ReadUInt16LittleEndian(v1.AsSpan(8));
        var ms = new MemoryStream();
        ms.Write(Npy.Magic);
        ms.Write([major, 0]);
        var len = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(len, (uint)hlen);
        ms.Write(len);
        ms.Write(v1, 10, hlen);
        ms.Write(a.Data);
        return ms.ToArray();
    }

    static byte[] RawNpy(string dict, byte[] data)
    {
        var header = dict + new string(' ', 63 - (10 + dict.Length) % 64) + "\n"; // aligned like numpy
        var ms = new MemoryStream();
        ms.Write(Npy.Magic);
        ms.Write([1, 0, (byte)header.Length, 0]);
        ms.Write(Encoding.Latin1.GetBytes(header));
        ms.Write(data);
        return ms.ToArray();
    }

    /// <summary>torch.equal plus the dtype (TorchSharp's Tensor.Equals(Tensor) is torch.equal; .equal() is elementwise).</summary>
    static bool Same(Tensor a, Tensor b) => a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) && a.Equals(b);
}
