// MNIST / Fashion-MNIST IDX loader (format: yann.lecun.com/exdb/mnist; reference/datasets-and-metrics.md §1a-1b).
using System.Buffers.Binary;
using System.IO.Compression;
using System.Text.RegularExpressions;

namespace ConsistencyModels.Data;

/// <summary>
/// A whole IDX image file (uint8, N×rows×cols, big-endian header; gzip or raw) held in memory, with the labels
/// file beside it. Images smaller than <see cref="ImageSize"/> are padded symmetrically with black (−1), e.g. 28 → 32
/// adds 2 pixels on each side; an odd difference puts the extra pixel at the bottom/right.
/// </summary>
public sealed partial class IdxDataset : ITrainingDataset
{
    const int ImagesMagic = 0x00000803, LabelsMagic = 0x00000801;
    readonly byte[] _pixels; // whole file, header included
    readonly byte[]? _labels; // whole file, header included
    readonly int _rows, _cols, _top, _left;

    /// <param name="imagesPath">An <c>*-images-idx3-ubyte[.gz]</c> file.</param>
    /// <param name="imageSize">Output side; at least the stored rows and columns.</param>
    /// <param name="labelsPath">The labels file; by default the <c>*-labels-idx1-ubyte[.gz]</c> file beside the images.</param>
    /// <param name="channels">1, or 3 to replicate the gray value.</param>
    /// <param name="classCond">true: labels are required; false: ignored; null: used when found.</param>
    public IdxDataset(string imagesPath, int imageSize, string? labelsPath = null, int channels = 1, bool? classCond = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(imagesPath);
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "Channels must be 1 or 3.");
        ImagesPath = imagesPath;
        Channels = channels;
        ImageSize = imageSize;

        _pixels = ReadAll(imagesPath, "IDX images");
        var n = Header(_pixels, imagesPath, ImagesMagic, 3, "images (uint8, 3 dimensions)");
        (Count, _rows, _cols) = (n[0], n[1], n[2]);
        CheckLength(_pixels, imagesPath, 16, (long)Count * _rows * _cols, $"{Count}x{_rows}x{_cols} images");
        if (_rows > imageSize || _cols > imageSize)
            throw new ArgumentException($"'{imagesPath}' holds {_rows}x{_cols} images, larger than the requested image size {imageSize}; IDX images are padded, never shrunk.", nameof(imageSize));
        (_top, _left) = ((imageSize - _rows) / 2, (imageSize - _cols) / 2);

        if (classCond == false) return;
        LabelsPath = labelsPath ?? FindLabels(imagesPath);
        if (LabelsPath is null || (labelsPath is null && !File.Exists(LabelsPath)))
        {
            if (classCond == true)
                throw new FileNotFoundException($"Class-conditional training needs the labels of '{imagesPath}', but no labels file was found beside it (expected '{LabelsPath ?? "*-labels-idx1-ubyte[.gz]"}').", LabelsPath);
            LabelsPath = null;
            return;
        }
        _labels = ReadAll(LabelsPath, "IDX labels");
        var m = Header(_labels, LabelsPath, LabelsMagic, 1, "labels (uint8, 1 dimension)");
        if (m[0] != Count)
            throw new InvalidDataException($"'{LabelsPath}' holds {m[0]} labels but '{imagesPath}' holds {Count} images.");
        CheckLength(_labels, LabelsPath, 8, Count, $"{Count} labels");
        NumClasses = Math.Max(10, _labels.AsSpan(8).ToArray().Max() + 1);
    }

    public string ImagesPath { get; }
    /// <summary>The labels file in use; null when unconditional.</summary>
    public string? LabelsPath { get; }
    public int Count { get; }
    public int Channels { get; }
    public int ImageSize { get; }
    /// <summary>10 (the MNIST classes), or more if a label is larger; null without labels.</summary>
    public int? NumClasses { get; }

    public int Read(int index, Span<float> dest)
    {
        Pixels.CheckDest(this, index, dest);
        if (_rows != ImageSize || _cols != ImageSize)
            dest.Fill(Pixels.Black);
        var image = _pixels.AsSpan(16 + index * _rows * _cols, _rows * _cols);
        Pixels.ToUnitChw(image, _rows, _cols, 1, (0, _cols, 1), dest, Channels, ImageSize, _top, _left);
        return _labels is null ? 0 : _labels[8 + index];
    }

    public string Describe(int index) => $"{Path.GetFileName(ImagesPath)} #{index}";

    /// <summary>Whether a file name looks like an IDX image file (<c>...idx3-ubyte</c>, optionally <c>.gz</c>).</summary>
    public static bool IsImagesFileName(string path) => ImagesName().IsMatch(Path.GetFileName(path));

    /// <summary>The standard labels file for an images file (train-images-idx3-ubyte.gz → train-labels-idx1-ubyte.gz, with or without .gz), or null.</summary>
    public static string? FindLabels(string imagesPath)
    {
        var name = Path.GetFileName(imagesPath);
        if (!ImagesName().IsMatch(name)) return null;
        var stem = ImagesName().Replace(name, "");
        var labels = Regex.Replace(stem, "images", "labels", RegexOptions.IgnoreCase) + "idx1-ubyte";
        var dir = Path.GetDirectoryName(imagesPath) ?? "";
        var candidates = new[] { labels, labels + ".gz" }.Select(f => Path.Combine(dir, f)).ToArray();
        return candidates.FirstOrDefault(File.Exists) ?? candidates[name.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? 1 : 0];
    }

    [GeneratedRegex(@"idx3-ubyte(\.gz)?$", RegexOptions.IgnoreCase)]
    private static partial Regex ImagesName();

    static byte[] ReadAll(string path, string what)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{what} file '{path}' does not exist.", path);
        var raw = File.ReadAllBytes(path);
        if (raw.Length < 2 || raw[0] != 0x1f || raw[1] != 0x8b) return raw;
        try
        {
            using var gz = new GZipStream(new MemoryStream(raw), CompressionMode.Decompress);
            using var ms = new MemoryStream();
            gz.CopyTo(ms);
            return ms.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"'{path}' is a corrupt gzip file: {e.Message}", e);
        }
    }

    /// <summary>Checks the magic number and returns the dimensions.</summary>
    static int[] Header(byte[] file, string path, int magic, int dims, string what)
    {
        var got = file.Length >= 4 ? BinaryPrimitives.ReadInt32BigEndian(file) : -1;
        if (got != magic)
        {
            var hint = got switch
            {
                ImagesMagic => " (that is an IDX images file)",
                LabelsMagic => " (that is an IDX labels file)",
                _ => "",
            };
            throw new InvalidDataException(
                $"'{path}' is not an IDX {what} file: expected magic 0x{magic:X8}, got {(got == -1 && file.Length < 4 ? $"only {file.Length} bytes" : $"0x{got:X8}")}{hint}.");
        }
        if (file.Length < 4 + 4 * dims)
            throw new InvalidDataException($"'{path}' is truncated: its IDX header needs {4 + 4 * dims} bytes, the file has {file.Length}.");
        var n = new int[dims];
        for (var i = 0; i < dims; i++)
        {
            n[i] = BinaryPrimitives.ReadInt32BigEndian(file.AsSpan(4 + 4 * i));
            if (n[i] < 1) throw new InvalidDataException($"'{path}': IDX dimension {i} is {n[i]}; expected a positive size.");
        }
        return n;
    }

    static void CheckLength(byte[] file, string path, int header, long body, string what)
    {
        if (file.LongLength != header + body)
            throw new InvalidDataException($"'{path}': expected {header} + {body} = {header + body} bytes for {what}, got {file.LongLength} (after decompression).");
    }
}
