// .npz / .npy image arrays — the layout of the official sample files and evaluator batches (arr_0 uint8 NHWC, arr_1 labels).
using ConsistencyModels.IO.Numpy;

namespace ConsistencyModels.Data;

/// <summary>
/// Images from a uint8 array held in memory: arr_0 of an .npz (labels from arr_1 when present) or a lone .npy.
/// Accepted shapes: [N, H, W, C] (as image_sample.py saves), [N, C, H, W] or [N, H, W], C = 1 or 3, H = W = ImageSize;
/// no resizing. Channels are converted on read: 1 → 3 replicates, 3 → 1 uses PIL "L" weights.
/// </summary>
public sealed class NpzDataset : ITrainingDataset
{
    readonly byte[] _data;
    readonly long[]? _labels;
    readonly int _fileChannels;
    readonly (int c, int y, int x) _stride;
    readonly int _per;

    /// <param name="classCond">true: arr_1 labels are required; false: ignored; null: used when present.</param>
    public NpzDataset(string path, int imageSize, int channels = 3, bool? classCond = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "Channels must be 1 or 3.");
        Path = path;
        Channels = channels;
        ImageSize = imageSize;

        NpyArray images;
        NpyArray? labels = null;
        if (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
            images = Npy.Read(path);
        else
        {
            var arrays = Npz.Read(path);
            images = arrays.TryGetValue("arr_0", out var a) ? a
                : throw new InvalidDataException($"'{path}' has no 'arr_0' image array (it holds: {string.Join(", ", arrays.Keys)}).");
            arrays.TryGetValue("arr_1", out labels);
        }
        if (images.Dtype != NpyDtype.UInt8)
            throw new InvalidDataException($"'{path}': images must be uint8 (|u1), got {images.Descr} with shape {Npy.ShapeRepr(images.Shape)}.");
        (Count, _fileChannels, _stride) = Layout(images.Shape, path, imageSize);
        _data = images.Data;
        _per = _fileChannels * imageSize * imageSize;

        if (classCond == false) return;
        if (labels is null)
        {
            if (classCond == true)
                throw new InvalidDataException($"Class-conditional training needs labels, but '{path}' has no 'arr_1' array.");
            return;
        }
        _labels = labels.Dtype switch
        {
            NpyDtype.Int64 => labels.ToArray<long>(),
            NpyDtype.Int32 => labels.ToArray<int>().Select(v => (long)v).ToArray(),
            NpyDtype.Int16 => labels.ToArray<short>().Select(v => (long)v).ToArray(),
            NpyDtype.UInt8 => labels.Data.Select(v => (long)v).ToArray(),
            _ => throw new InvalidDataException($"'{path}': labels arr_1 must be integers, got {labels.Descr}."),
        };
        if (labels.Shape.Length != 1 || _labels.Length != Count)
            throw new InvalidDataException($"'{path}': labels arr_1 must have shape ({Count},), got {Npy.ShapeRepr(labels.Shape)}.");
        if (_labels.Any(v => v < 0 || v > int.MaxValue - 1))
            throw new InvalidDataException($"'{path}': labels arr_1 must be non-negative class indices.");
        NumClasses = (int)_labels.Max() + 1;
    }

    public string Path { get; }
    public int Count { get; }
    public int Channels { get; }
    public int ImageSize { get; }
    /// <summary>Largest label + 1; null without labels.</summary>
    public int? NumClasses { get; }

    public int Read(int index, Span<float> dest)
    {
        Pixels.CheckDest(this, index, dest);
        var image = _data.AsSpan(checked(index * _per), _per);
        Pixels.ToUnitChw(image, ImageSize, ImageSize, _fileChannels, _stride, dest, Channels, ImageSize);
        return _labels is null ? 0 : (int)_labels[index];
    }

    public string Describe(int index) => $"{System.IO.Path.GetFileName(Path)} #{index}";

    /// <summary>Count, channels in the file and (channel, row, column) strides within one image.</summary>
    static (int n, int c, (int c, int y, int x) stride) Layout(long[] s, string path, int size)
    {
        var shape = Npy.ShapeRepr(s);
        if (s.Length == 3 && s[1] == size && s[2] == size)
            return (checked((int)s[0]), 1, (0, size, 1));
        if (s.Length == 4 && s[1] == size && s[2] == size && s[3] is 1 or 3)
            return (checked((int)s[0]), (int)s[3], (1, size * (int)s[3], (int)s[3]));
        if (s.Length == 4 && s[1] is 1 or 3 && s[2] == size && s[3] == size)
            return (checked((int)s[0]), (int)s[1], (size * size, size, 1));
        throw new InvalidDataException(
            $"'{path}': expected images shaped (N, {size}, {size}, C), (N, C, {size}, {size}) or (N, {size}, {size}) with C = 1 or 3 for image size {size}, got {shape} (npz images are not resized).");
    }
}
