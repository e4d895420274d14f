// Crafted npz files: shapes that claim more than the entry holds, and corrupted stored entries.
using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using ConsistencyModels.IO.Numpy;
using Xunit;

namespace ConsistencyModels.Tests.IO.ImagesAndNpz;

public class NpzHostileTests
{
    /// <summary>A .npy of <paramref name="shape"/> (uint8) whose header is valid but whose data is only <paramref name="dataBytes"/> long.</summary>
    private static byte[] Npy(string shape, int dataBytes)
    {
        var dict = $"{{'descr': '|u1', 'fortran_order': False, 'shape': {shape}, }}";
        int hlen = dict.Length + 1;
        int pad = 64 - (10 + hlen) % 64;
        var header = Encoding.Latin1.GetBytes(dict + new string(' ', pad) + "\n");
        var bytes = new byte[10 + header.Length + dataBytes];
        bytes[0] = 0x93;
        "NUMPY"u8.CopyTo(bytes.AsSpan(1));
        bytes[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)header.Length);
        header.CopyTo(bytes, 10);
        return bytes;
    }

    private static string Npz(TempDir dir, byte[] npy, string name = "arr_0.npy")
    {
        var path = dir.File("crafted.npz");
        using var fs = File.Create(path);
        using var zip = new ZipArchive(fs, ZipArchiveMode.Create);
        using var s = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
        s.Write(npy);
        return path;
    }

    [Theory]
    [InlineData("(1099511627776, 32, 32, 1)")] // 2^40 images: more than any array or memory
    [InlineData("(1048576, 32, 32, 1)")]       // 1 GiB: would be allocated, then found truncated
    public void A_shape_larger_than_the_entry_is_refused_before_allocating(string shape)
    {
        using var dir = new TempDir();
        var path = Npz(dir, Npy(shape, 1024));
        Assert.True(new FileInfo(path).Length < 2000);
        var before = GC.GetTotalAllocatedBytes();
        var e = Assert.Throws<InvalidDataException>(() => ConsistencyModels.IO.Numpy.Npz.Read(path));
        Assert.True(GC.GetTotalAllocatedBytes() - before < 64 << 20, "the array was allocated before the check");
        Assert.Contains("arr_0", e.Message);
        Assert.Contains(path, e.Message);
        Assert.Contains("1024 bytes", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        // The header-only reader (used to count samples) refuses it too.
        Assert.Contains("1024 bytes", Assert.Throws<InvalidDataException>(() => ConsistencyModels.IO.Numpy.Npz.ReadHeaders(path)).Message);
    }

    [Fact]
    public void A_shape_whose_size_overflows_is_refused_clearly()
    {
        using var dir = new TempDir();
        var path = Npz(dir, Npy("(9223372036854775807, 4)", 16));
        var e = Assert.Throws<InvalidDataException>(() => ConsistencyModels.IO.Numpy.Npz.Read(path));
        Assert.Contains("arr_0", e.Message);
    }

    [Fact]
    public void An_exact_entry_still_reads()
    {
        using var dir = new TempDir();
        var path = Npz(dir, Npy("(2, 2, 2, 1)", 8));
        var a = ConsistencyModels.IO.Numpy.Npz.Read(path)["arr_0"];
        Assert.Equal([2L, 2, 2, 1], a.Shape);
    }

    [Fact]
    public void A_flipped_byte_in_a_stored_entry_fails_its_crc()
    {
        using var dir = new TempDir();
        var path = dir.File("samples.npz");
        var values = Enumerable.Range(0, 4096).Select(i => (byte)(i * 7 + 3)).ToArray();
        ConsistencyModels.IO.Numpy.Npz.Write(path, NpyArray.Create<byte>("arr_0", values, 4, 32, 32, 1));
        Assert.True(values.AsSpan().SequenceEqual(ConsistencyModels.IO.Numpy.Npz.Read(path)["arr_0"].Data));

        var bytes = File.ReadAllBytes(path);
        int at = bytes.AsSpan().IndexOf(values.AsSpan(1000, 16)) + 5;
        bytes[at] ^= 0x10;
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => ConsistencyModels.IO.Numpy.Npz.Read(path));
        Assert.Contains("CRC-32", e.Message);
        Assert.Contains("arr_0.npy", e.Message);
        Assert.Contains(path, e.Message);
    }
}
