// IDX (MNIST / Fashion-MNIST format) loader tests on files written byte by byte.
using System.Buffers.Binary;
using System.IO.Compression;
using ConsistencyModels.Data;
using Xunit;

namespace ConsistencyModels.Tests.Data;

public class IdxDatasetTests
{
    static readonly byte[] LabelValues = [7, 0, 3];

    static byte Pixel(int n, int y, int x) => (byte)((n * 50 + y * 28 + x * 3) % 256);

    internal static byte[] ImagesFile(int n, int rows, int cols, int magic = 0x803)
    {
        var b = new byte[16 + n * rows * cols];
        BinaryPrimitives.WriteInt32BigEndian(b, magic);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4), n);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(8), rows);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(12), cols);
        for (var k = 0; k < n; k++)
            for (var y = 0; y < rows; y++)
                for (var x = 0; x < cols; x++)
                    b[16 + (k * rows + y) * cols + x] = Pixel(k, y, x);
        return b;
    }

    internal static byte[] LabelsFile(byte[] labels)
    {
        var b = new byte[8 + labels.Length];
        BinaryPrimitives.WriteInt32BigEndian(b, 0x801);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4), labels.Length);
        labels.CopyTo(b, 8);
        return b;
    }

    internal static void Write(string path, byte[] bytes)
    {
        if (!path.EndsWith(".gz")) { File.WriteAllBytes(path, bytes); return; }
        using var fs = File.Create(path);
        using var gz = new GZipStream(fs, CompressionLevel.Fastest);
        gz.Write(bytes);
    }

    /// <summary>Writes train-images / train-labels (with the suffix) into dir and returns the images path.</summary>
    internal static string WritePair(string dir, string suffix, bool labels = true)
    {
        var images = Path.Combine(dir, "train-images-idx3-ubyte" + suffix);
        Write(images, ImagesFile(3, 28, 28));
        if (labels) Write(Path.Combine(dir, "train-labels-idx1-ubyte" + suffix), LabelsFile(LabelValues));
        return images;
    }

    [Theory]
    [InlineData("")]
    [InlineData(".gz")]
    public void RoundTrip_FindsLabelsBeside(string suffix)
    {
        using var tmp = new TempDir();
        var data = new IdxDataset(WritePair(tmp.Path, suffix), 28);

        Assert.Equal((3, 1, 28, 10), (data.Count, data.Channels, data.ImageSize, data.NumClasses));
        Assert.Equal(tmp.File("train-labels-idx1-ubyte" + suffix), data.LabelsPath);
        var dest = new float[28 * 28];
        for (var n = 0; n < 3; n++)
        {
            Assert.Equal(LabelValues[n], data.Read(n, dest));
            for (var y = 0; y < 28; y++)
                for (var x = 0; x < 28; x++)
                    Assert.Equal(Pixel(n, y, x) / 127.5f - 1f, dest[y * 28 + x]);
        }
        Assert.Equal("train-images-idx3-ubyte" + suffix + " #2", data.Describe(2));
    }

    [Fact]
    public void PadsTo32_WithBlack_AndReplicatesChannels()
    {
        using var tmp = new TempDir();
        var data = new IdxDataset(WritePair(tmp.Path, ".gz"), 32, channels: 3);
        var dest = new float[3 * 32 * 32];
        data.Read(1, dest);
        for (var c = 0; c < 3; c++)
            for (var y = 0; y < 32; y++)
                for (var x = 0; x < 32; x++)
                {
                    var inside = y is >= 2 and < 30 && x is >= 2 and < 30;
                    var expected = inside ? Pixel(1, y - 2, x - 2) / 127.5f - 1f : -1f;
                    Assert.Equal(expected, dest[(c * 32 + y) * 32 + x]);
                }
    }

    [Fact]
    public void ExplicitLabelsPath_AndUnconditional()
    {
        using var tmp = new TempDir();
        var images = WritePair(tmp.Path, "", labels: false);
        var labels = tmp.File("my-labels.bin");
        Write(labels, LabelsFile([1, 2, 12]));
        Assert.Equal(13, new IdxDataset(images, 28, labels).NumClasses); // a label above 9 widens the class count

        var plain = new IdxDataset(images, 28);                    // no labels beside: unconditional
        Assert.Null(plain.NumClasses);
        Assert.Equal(0, plain.Read(2, new float[28 * 28]));
        Assert.Null(new IdxDataset(images, 28, labels, classCond: false).NumClasses);
        var e = Assert.Throws<FileNotFoundException>(() => new IdxDataset(images, 28, classCond: true));
        Assert.Contains("train-labels-idx1-ubyte", e.Message);
    }

    [Fact]
    public void BadMagic_NamesFileAndExpectation()
    {
        using var tmp = new TempDir();
        var path = tmp.File("train-images-idx3-ubyte");
        Write(path, LabelsFile(LabelValues)); // a labels file where images are expected
        var e = Assert.Throws<InvalidDataException>(() => new IdxDataset(path, 28));
        Assert.Contains(path, e.Message);
        Assert.Contains("expected magic 0x00000803, got 0x00000801", e.Message);
        Assert.Contains("labels file", e.Message);

        File.WriteAllBytes(path, ImagesFile(3, 28, 28)[..^5]); // truncated
        e = Assert.Throws<InvalidDataException>(() => new IdxDataset(path, 28));
        Assert.Contains("16 + 2352 = 2368 bytes", e.Message);

        File.WriteAllBytes(path, ImagesFile(3, 28, 28));
        File.WriteAllBytes(tmp.File("train-labels-idx1-ubyte"), LabelsFile([1, 2]));
        e = Assert.Throws<InvalidDataException>(() => new IdxDataset(path, 28));
        Assert.Contains("2 labels", e.Message);
        Assert.Contains("3 images", e.Message);
    }

    [Fact]
    public void SmallerImageSize_IsAnError()
    {
        using var tmp = new TempDir();
        var e = Assert.Throws<ArgumentException>(() => new IdxDataset(WritePair(tmp.Path, ""), 16));
        Assert.Contains("28x28", e.Message);
    }
}
