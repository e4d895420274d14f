using Xunit;
using ConsistencyModels.IO.Images;
using SkiaSharp;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.IO.ImagesAndNpz;

public class ImageIOTests
{
    static byte[] Pattern(int length, int seed)
    {
        var rng = new Random(seed);
        var data = new byte[length];
        rng.NextBytes(data);
        return data;
    }

    [Theory]
    [InlineData(3)]
    [InlineData(1)]
    public void Png_RoundTrip_IsExact(int c)
    {
        using var tmp = new TempDir();
        const int h = 17, w = 23;
        var hwc = Pattern(h * w * c, c);
        var path = tmp.File("nested/one.png");
        ImageIO.SavePng(path, hwc, h, w, c);

        var (data, rh, rw) = c == 3 ? ImageIO.LoadRgb(path) : ImageIO.LoadGray(path);
        Assert.Equal((h, w), (rh, rw));
        Assert.Equal(hwc, data);
        Assert.Empty(Directory.GetFiles(tmp.File("nested"), "*.tmp"));
    }

    [Fact]
    public void Grid_SizeMath_MatchesMakeGrid()
    {
        Assert.Equal((134, 134), ImageIO.GridSize(4, 64, 64));                 // 2x2: 2*(64+2)+2
        Assert.Equal((134, 200), ImageIO.GridSize(5, 64, 64));                 // ceil(sqrt 5)=3 cols, 2 rows
        Assert.Equal((66 * 2 + 2, 66 * 8 + 2), ImageIO.GridSize(16, 64, 64, columns: 8));
        Assert.Equal((68, 66 * 3 + 2), ImageIO.GridSize(3, 64, 64, columns: 10)); // cols capped at n
        Assert.Equal((64, 64), ImageIO.GridSize(1, 64, 64));                   // make_grid returns a lone image unpadded
        Assert.Equal((128, 128), ImageIO.GridSize(4, 64, 64, padding: 0));
    }

    [Fact]
    public void Grid_PlacesImagesAndZeroPadding()
    {
        using var tmp = new TempDir();
        const int n = 4, h = 64, w = 64, c = 3;
        var nhwc = new byte[n * h * w * c];
        for (var k = 0; k < n; k++)
            nhwc.AsSpan(k * h * w * c, h * w * c).Fill((byte)(50 * (k + 1)));
        var path = tmp.File("grid.png");
        ImageIO.SaveGrid(path, nhwc, n, h, w, c);

        var (data, gh, gw) = ImageIO.LoadRgb(path);
        Assert.Equal((134, 134), (gh, gw));
        byte At(int y, int x) => data[(y * gw + x) * 3];
        Assert.Equal(0, At(0, 0));
        Assert.Equal(0, At(1, 1));
        Assert.Equal(50, At(2, 2));        // image 0 top-left at (2, 2)
        Assert.Equal(50, At(65, 65));
        Assert.Equal(0, At(66, 66));       // padding between images
        Assert.Equal(0, At(67, 2));
        Assert.Equal(100, At(2, 68));      // image 1: row 0, column 1
        Assert.Equal(150, At(68, 2));      // image 2: row 1, column 0
        Assert.Equal(200, At(131, 131));   // image 3 bottom-right
        Assert.Equal(0, At(133, 133));
    }

    [Fact]
    public void Grid_FromTensor_MatchesBytes()
    {
        using var tmp = new TempDir();
        var bytes = Pattern(3 * 8 * 5 * 3, 7);
        using var t = tensor(bytes, new long[] { 3, 8, 5, 3 }, ScalarType.Byte);
        ImageIO.SaveGrid(tmp.File("a.png"), t);
        ImageIO.SaveGrid(tmp.File("b.png"), bytes, 3, 8, 5, 3);
        Assert.Equal(ImageIO.LoadRgb(tmp.File("a.png")).data, ImageIO.LoadRgb(tmp.File("b.png")).data);
        Assert.Equal((2 * 10 + 2, 2 * 7 + 2), (ImageIO.LoadRgb(tmp.File("a.png")).h, ImageIO.LoadRgb(tmp.File("a.png")).w));
    }

    [Theory]
    [InlineData("grid.jpg", 3)]
    [InlineData("grid.JPEG", 1)]
    public void Jpeg_WritesAndDecodes(string name, int c)
    {
        using var tmp = new TempDir();
        const int n = 4, h = 32, w = 32;
        var nhwc = new byte[n * h * w * c];
        for (var i = 0; i < nhwc.Length; i++)
            nhwc[i] = (byte)(i / c % w * 8); // smooth horizontal ramp: survives JPEG within a few levels
        var path = tmp.File(name);
        ImageIO.SaveGrid(path, nhwc, n, h, w, c);

        using (var codec = SKCodec.Create(path))
            Assert.Equal(SKEncodedImageFormat.Jpeg, codec.EncodedFormat);
        var (rgb, gh, gw) = ImageIO.LoadRgb(path);
        Assert.Equal((70, 70), (gh, gw));
        var expected = 10 * 8; // image 0's pixel (row 2, col 10) sits at grid (4, 12)
        Assert.InRange(rgb[(4 * gw + 12) * 3], expected - 6, expected + 6);
        var (gray, _, _) = ImageIO.LoadGray(path);
        Assert.InRange(gray[4 * gw + 12], expected - 6, expected + 6);
    }

    [Fact]
    public void BadExtension_And_NonImage_Errors()
    {
        using var tmp = new TempDir();
        var e = Assert.Throws<ArgumentException>(() => ImageIO.SaveGrid(tmp.File("x.gif"), new byte[3], 1, 1, 1, 3));
        Assert.Contains("unsupported image extension '.gif'", e.Message);
        Assert.Throws<ArgumentException>(() => ImageIO.SaveGrid(tmp.File("noext"), new byte[3], 1, 1, 1, 3));
        Assert.Throws<ArgumentException>(() => ImageIO.SavePng(tmp.File("x.jpg"), new byte[3], 1, 1, 3));
        Assert.Throws<ArgumentException>(() => ImageIO.SaveGrid(tmp.File("x.png"), new byte[4], 1, 1, 1, 4));
        Assert.Throws<ArgumentException>(() => ImageIO.SaveGrid(tmp.File("x.png"), new byte[5], 2, 1, 1, 3));
        Assert.False(File.Exists(tmp.File("x.png")));

        var txt = tmp.File("x.txt");
        File.WriteAllText(txt, "not an image");
        var bad = Assert.Throws<InvalidDataException>(() => ImageIO.LoadRgb(txt));
        Assert.Contains($"'{txt}' is not an image SkiaSharp can decode", bad.Message);
        Assert.Throws<FileNotFoundException>(() => ImageIO.LoadGray(tmp.File("missing.png")));
    }

    [Fact]
    public void ToUint8Nhwc_TruncatesLikeTorch()
    {
        float[] values = [-1f, 1f, 0f, 0.999f, -0.996f, 1.5f, -3f, 0.5f, -1.001f, 0.00392f, 1.0001f, -0.5f];
        using var x = tensor(values, new long[] { 1, 1, 3, 4 });
        using var u = ImageIO.ToUint8Nhwc(x);
        Assert.Equal(ScalarType.Byte, u.dtype);
        Assert.Equal(new long[] { 1, 3, 4, 1 }, u.shape);
        // (0.5+1)*127.5 = 191.25 -> 191; (0.00392+1)*127.5 = 127.9998 -> 127; -0.5 -> 63.75 -> 63.
        Assert.Equal(new byte[] { 0, 255, 127, 254, 0, 255, 0, 191, 0, 127, 255, 63 }, u.data<byte>().ToArray());
    }

    [Fact]
    public void ToUint8Nhwc_PermutesToContiguousNhwc()
    {
        using var x = arange(0, 2 * 3 * 2 * 2, dtype: ScalarType.Float32).reshape(2, 3, 2, 2).div(24f).mul(2f).sub(1f);
        using var u = ImageIO.ToUint8Nhwc(x);
        Assert.Equal(new long[] { 2, 2, 2, 3 }, u.shape);
        Assert.True(u.is_contiguous());
        using var expected = ((x + 1) * 127.5).clamp(0, 255).to_type(ScalarType.Byte).permute(0, 2, 3, 1);
        Assert.True(Same(u, expected));
        using var shifted = expected + 1;
        Assert.False(Same(u, shifted)); // the comparison itself can fail

        using var d = x.to_type(ScalarType.Float64);
        using var ud = ImageIO.ToUint8Nhwc(d); // float64 input is computed in float32
        Assert.True(Same(ud, u));
    }

    /// <summary>torch.equal plus the dtype (TorchSharp's Tensor.Equals(Tensor) is torch.equal; .equal() is elementwise).</summary>
    static bool Same(Tensor a, Tensor b) => a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) && a.Equals(b);
}
