// The one shape in which the library hands out images (generation, editing, the studio): uint8 NHWC bytes with labels.
using static TorchSharp.torch;

namespace ConsistencyModels.IO.Images;

/// <summary>
/// <paramref name="Count"/> images as uint8 NHWC bytes (the official npz layout: sample after sample, row after row,
/// channels interleaved) and their class labels (null for unconditional models).
/// </summary>
public record ImageBatch(byte[] Images, int Count, int Height, int Width, int Channels, long[]? Labels)
{
    public int BytesPerImage => Height * Width * Channels;

    /// <summary>Image <paramref name="i"/> as HWC bytes.</summary>
    public byte[] Image(int i) => Images.AsSpan(i * BytesPerImage, BytesPerImage).ToArray();

    /// <summary>A uint8 [N, H, W, C] tensor (e.g. <see cref="ImageIO.ToUint8Nhwc"/>'s result), on any device.</summary>
    public static ImageBatch FromTensor(Tensor uint8Nhwc, long[]? labels = null)
    {
        if (uint8Nhwc.dtype != ScalarType.Byte || uint8Nhwc.dim() != 4)
            throw new ArgumentException($"expected a uint8 [N, H, W, C] tensor, got {uint8Nhwc.dtype} [{string.Join(", ", uint8Nhwc.shape)}]", nameof(uint8Nhwc));
        using var scope = NewDisposeScope();
        var bytes = uint8Nhwc.cpu().contiguous().bytes.ToArray();
        return new ImageBatch(bytes, (int)uint8Nhwc.shape[0], (int)uint8Nhwc.shape[1], (int)uint8Nhwc.shape[2], (int)uint8Nhwc.shape[3], labels);
    }

    /// <summary>
    /// Image i of every batch in turn (a grid row per i when written with one column per batch), e.g. reference, input
    /// and result side by side. The batches must agree in count and image shape.
    /// </summary>
    public static ImageBatch Interleave(IReadOnlyList<ImageBatch> columns)
    {
        var first = columns[0];
        if (columns.Any(b => b.Count != first.Count || b.Height != first.Height || b.Width != first.Width || b.Channels != first.Channels))
            throw new ArgumentException("interleaved batches must have the same number and shape of images", nameof(columns));
        int k = columns.Count, size = first.BytesPerImage;
        var images = new byte[(long)first.Count * k * size];
        for (int i = 0; i < first.Count; i++)
            for (int j = 0; j < k; j++)
                columns[j].Images.AsSpan(i * size, size).CopyTo(images.AsSpan((i * k + j) * size));
        long[]? labels = columns.All(b => b.Labels is not null)
            ? [.. Enumerable.Range(0, first.Count * k).Select(ij => columns[ij % k].Labels![ij / k])] : null;
        return new ImageBatch(images, first.Count * k, first.Height, first.Width, first.Channels, labels);
    }

    /// <summary>Every image enlarged <paramref name="factor"/> times, nearest neighbour (pixel (y, x) from (y / factor, x / factor)).</summary>
    public ImageBatch Zoom(int factor)
    {
        if (factor < 1) throw new ArgumentOutOfRangeException(nameof(factor), factor, "the zoom factor must be at least 1");
        if (factor == 1) return this;
        int h = Height * factor, w = Width * factor, c = Channels;
        var images = new byte[checked((long)Count * h * w * c)];
        for (long n = 0, o = 0; n < Count; n++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++, o += c)
                    Array.Copy(Images, ((n * Height + y / factor) * Width + x / factor) * c, images, o, c);
        return this with { Images = images, Height = h, Width = w };
    }

    /// <summary>All images as one grid (<see cref="ImageIO.SaveGrid(string, byte[], int, int, int, int, int?, int)"/>: make_grid's layout), .png or .jpg.</summary>
    public void SaveGrid(string path, int? columns = null) => ImageIO.SaveGrid(path, Images, Count, Height, Width, Channels, columns);

    /// <summary>
    /// One PNG per image in <paramref name="folder"/> (created if missing), named by its index
    /// <paramref name="firstIndex"/> + i with <paramref name="digits"/> digits (000000.png, ...).
    /// </summary>
    public void SavePngs(string folder, int firstIndex = 0, int digits = 6)
    {
        Directory.CreateDirectory(folder);
        for (int i = 0; i < Count; i++)
            ImageIO.SavePng(Path.Combine(folder, (firstIndex + i).ToString($"D{digits}", System.Globalization.CultureInfo.InvariantCulture) + ".png"),
                            Image(i), Height, Width, Channels);
    }
}
