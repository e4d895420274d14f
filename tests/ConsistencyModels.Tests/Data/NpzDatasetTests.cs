// .npz / .npy dataset tests (arr_0 uint8 NHWC or NCHW, optional arr_1 labels).
using ConsistencyModels.IO.Numpy;
using ConsistencyModels.Data;
using Xunit;

namespace ConsistencyModels.Tests.Data;

public class NpzDatasetTests
{
    const int N = 4, S = 8;

    static byte V(int n, int y, int x, int c) => (byte)(n * 60 + y * 17 + x * 5 + c * 80);

    static NpyArray Nhwc()
    {
        var a = new byte[N * S * S * 3];
        for (var n = 0; n < N; n++) for (var y = 0; y < S; y++) for (var x = 0; x < S; x++) for (var c = 0; c < 3; c++)
            a[((n * S + y) * S + x) * 3 + c] = V(n, y, x, c);
        return NpyArray.Create<byte>("arr_0", a, N, S, S, 3);
    }

    static NpyArray Nchw()
    {
        var a = new byte[N * 3 * S * S];
        for (var n = 0; n < N; n++) for (var c = 0; c < 3; c++) for (var y = 0; y < S; y++) for (var x = 0; x < S; x++)
            a[((n * 3 + c) * S + y) * S + x] = V(n, y, x, c);
        return NpyArray.Create<byte>("arr_0", a, N, 3, S, S);
    }

    static void AssertSample(ITrainingDataset data, int n)
    {
        var dest = new float[3 * S * S];
        data.Read(n, dest);
        for (var c = 0; c < 3; c++) for (var y = 0; y < S; y++) for (var x = 0; x < S; x++)
            Assert.Equal(V(n, y, x, c) / 127.5f - 1f, dest[(c * S + y) * S + x]);
    }

    [Fact]
    public void Nhwc_WithLabels()
    {
        using var tmp = new TempDir();
        var path = tmp.File("samples_4x8x8x3.npz");
        Npz.Write(path, Nhwc(), NpyArray.Create<long>("arr_1", new long[] { 5, 0, 9, 2 }, N));
        var data = new NpzDataset(path, S);

        Assert.Equal((N, 3, S, 10), (data.Count, data.Channels, data.ImageSize, data.NumClasses));
        for (var n = 0; n < N; n++) AssertSample(data, n);
        Assert.Equal(9, data.Read(2, new float[3 * S * S]));
        Assert.Equal("samples_4x8x8x3.npz #3", data.Describe(3));
        Assert.Null(new NpzDataset(path, S, classCond: false).NumClasses);
    }

    [Fact]
    public void Nchw_AndNpy_ReadTheSame()
    {
        using var tmp = new TempDir();
        Npz.Write(tmp.File("chw.npz"), Nchw());
        Npy.Write(tmp.File("hwc.npy"), Nhwc());
        foreach (var data in new[] { new NpzDataset(tmp.File("chw.npz"), S), new NpzDataset(tmp.File("hwc.npy"), S) })
        {
            Assert.Null(data.NumClasses);
            for (var n = 0; n < N; n++) AssertSample(data, n);
        }
        var gray = new NpzDataset(tmp.File("hwc.npy"), S, channels: 1);
        var g = new float[S * S];
        gray.Read(0, g);
        int r = V(0, 0, 0, 0), gg = V(0, 0, 0, 1), b = V(0, 0, 0, 2);
        Assert.Equal((byte)((r * 19595 + gg * 38470 + b * 7471 + 0x8000) >> 16) / 127.5f - 1f, g[0]);
    }

    [Fact]
    public void Mismatches_AreClearErrors()
    {
        using var tmp = new TempDir();
        Npz.Write(tmp.File("a.npz"), Nhwc());
        var e = Assert.Throws<InvalidDataException>(() => new NpzDataset(tmp.File("a.npz"), 16));
        Assert.Contains("(4, 8, 8, 3)", e.Message);
        Assert.Contains("not resized", e.Message);
        e = Assert.Throws<InvalidDataException>(() => new NpzDataset(tmp.File("a.npz"), S, classCond: true));
        Assert.Contains("arr_1", e.Message);

        Npz.Write(tmp.File("f.npz"), NpyArray.Create<float>("arr_0", new float[N * S * S * 3], N, S, S, 3));
        Assert.Contains("uint8", Assert.Throws<InvalidDataException>(() => new NpzDataset(tmp.File("f.npz"), S)).Message);
        Npz.Write(tmp.File("other.npz"), NpyArray.Create<byte>("images", new byte[1], 1));
        Assert.Contains("arr_0", Assert.Throws<InvalidDataException>(() => new NpzDataset(tmp.File("other.npz"), S)).Message);
    }
}
