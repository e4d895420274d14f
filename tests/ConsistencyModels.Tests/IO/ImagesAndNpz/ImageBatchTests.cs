// ImageBatch, the one image shape of generation, editing and the studio: tensor import, interleaving, zoom, PNG files.
using ConsistencyModels.IO.Images;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.IO.ImagesAndNpz;

public class ImageBatchTests
{
    private static ImageBatch Batch(int count, int h, int w, int c, byte offset, long[]? labels = null) =>
        new([.. Enumerable.Range(0, count * h * w * c).Select(i => (byte)(i + offset))], count, h, w, c, labels);

    [Fact]
    public void FromTensorKeepsTheNhwcBytes()
    {
        using var t = arange(2 * 3 * 4 * 3, dtype: ScalarType.Byte).reshape(2, 3, 4, 3);
        var b = ImageBatch.FromTensor(t, [5, 6]);
        Assert.Equal((2, 3, 4, 3), (b.Count, b.Height, b.Width, b.Channels));
        Assert.Equal(t.data<byte>().ToArray(), b.Images);
        Assert.Equal(Enumerable.Range(36, 36).Select(i => (byte)i), b.Image(1));
        Assert.Equal(new long[] { 5, 6 }, b.Labels);
        using var f = zeros(1, 2, 2, 1);
        Assert.Throws<ArgumentException>(() => ImageBatch.FromTensor(f));
    }

    [Fact]
    public void InterleaveIsTheTensorStackOfTheOldEditGrid()
    {
        ImageBatch a = Batch(2, 3, 2, 1, 0, [1, 2]), b = Batch(2, 3, 2, 1, 100, [1, 2]), c = Batch(2, 3, 2, 1, 200, [1, 2]);
        var grid = ImageBatch.Interleave([a, b, c]);
        using var ta = tensor(a.Images).reshape(2, 3, 2, 1);
        using var tb = tensor(b.Images).reshape(2, 3, 2, 1);
        using var tc = tensor(c.Images).reshape(2, 3, 2, 1);
        using var expected = stack([ta, tb, tc], 1).flatten(0, 1).contiguous();
        Assert.Equal(expected.data<byte>().ToArray(), grid.Images);
        Assert.Equal(6, grid.Count);
        Assert.Equal(new long[] { 1, 1, 1, 2, 2, 2 }, grid.Labels);
        Assert.Throws<ArgumentException>(() => ImageBatch.Interleave([a, Batch(1, 3, 2, 1, 0)]));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void ZoomIsNearestNeighbourAsRepeatInterleave(int channels)
    {
        var b = Batch(2, 3, 5, channels, 7);
        var zoomed = b.Zoom(4);
        using var t = tensor(b.Images).reshape(2, 3, 5, channels);
        using var expected = t.repeat_interleave(4, 1).repeat_interleave(4, 2).contiguous();
        Assert.Equal((12, 20), (zoomed.Height, zoomed.Width));
        Assert.Equal(expected.data<byte>().ToArray(), zoomed.Images);
        Assert.Same(b, b.Zoom(1));
    }

    [Fact]
    public void SavePngsNamesFilesByIndex()
    {
        using var tmp = new TempDir();
        var b = Batch(3, 4, 4, 3, 9);
        b.SavePngs(tmp.File("out"), firstIndex: 10);
        b.SavePngs(tmp.File("studio"), digits: 4);
        Assert.Equal(["000010.png", "000011.png", "000012.png"], Directory.GetFiles(tmp.File("out")).Select(Path.GetFileName).Order());
        Assert.Equal(["0000.png", "0001.png", "0002.png"], Directory.GetFiles(tmp.File("studio")).Select(Path.GetFileName).Order());
        var (pixels, h, w) = ImageIO.LoadRgb(tmp.File("out/000011.png"));
        Assert.Equal((4, 4), (h, w));
        Assert.Equal(b.Image(1), pixels);
    }
}
