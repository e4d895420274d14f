// Image folder loader — port of cm/image_datasets.py (recursive listing, class from file-name prefix, ADM centre crop).
using ConsistencyModels.IO;
using ConsistencyModels.IO.Images;

namespace ConsistencyModels.Data;

/// <summary>
/// Every .jpg/.jpeg/.png/.gif under a folder, listed like _list_image_files_recursively: each directory's entries
/// sorted (ordinal, as Python sorts str), images taken in that order and sub-folders expanded where they sort.
/// The class of a file is the part of its name before the first '_' (ImageNet "n01440764_123.JPEG" → "n01440764"),
/// numbered by the sorted set of those names. Images are decoded with SkiaSharp (RGB, or PIL "L" gray when
/// <see cref="Channels"/> is 1), centre-cropped like center_crop_arr and scaled to [-1, 1]. Files are decoded on demand;
/// one larger than <see cref="ReadLimits.MaxImageSide"/> a side is refused from its header when it is read.
/// </summary>
public sealed class ImageFolderDataset : ITrainingDataset
{
    static readonly HashSet<string> Extensions = new(StringComparer.OrdinalIgnoreCase) { "jpg", "jpeg", "png", "gif" };
    readonly string[] _files;
    readonly int[] _labels;
    readonly ReadLimits _limits;

    public ImageFolderDataset(string directory, int imageSize, int channels = 3, bool classCond = false, ReadLimits? limits = null)
    {
        _limits = limits ?? ReadLimits.Default;
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!System.IO.Directory.Exists(directory))
            throw new DirectoryNotFoundException($"Image folder '{directory}' does not exist.");
        if (imageSize < 1) throw new ArgumentOutOfRangeException(nameof(imageSize), imageSize, "The image size must be positive.");
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "Channels must be 1 or 3.");
        Directory = directory;
        ImageSize = imageSize;
        Channels = channels;

        var files = new List<string>();
        ListRecursively(directory, files);
        if (files.Count == 0)
            throw new ArgumentException($"No .jpg, .jpeg, .png or .gif images under '{directory}'.", nameof(directory));
        _files = files.ToArray();

        var names = _files.Select(ClassNameOf).ToArray();
        ClassNames = names.Distinct().Order(StringComparer.Ordinal).ToArray();
        var number = ClassNames.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i, StringComparer.Ordinal);
        _labels = names.Select(n => number[n]).ToArray();
        NumClasses = classCond ? ClassNames.Count : null;
    }

    public string Directory { get; }
    public IReadOnlyList<string> Files => _files;
    /// <summary>Sorted class names (file-name prefixes); label i is ClassNames[i]. Computed even when unconditional.</summary>
    public IReadOnlyList<string> ClassNames { get; }
    public int Count => _files.Length;
    public int Channels { get; }
    public int ImageSize { get; }
    public int? NumClasses { get; }

    /// <summary>The class index of a file (whether or not the dataset is class-conditional).</summary>
    public int LabelOf(int index) => _labels[index];

    /// <summary>bf.basename(path).split("_")[0]: the whole name (extension included) when it has no '_'.</summary>
    public static string ClassNameOf(string path) => Path.GetFileName(path).Split('_')[0];

    public int Read(int index, Span<float> dest)
    {
        Pixels.CheckDest(this, index, dest);
        var path = _files[index];
        byte[] pixels;
        int h, w;
        try
        {
            (pixels, h, w) = Channels == 3 ? ImageIO.LoadRgb(path, _limits) : ImageIO.LoadGray(path, _limits);
        }
        catch (IOException e) when (e is not ImageTooLargeException) // e.g. deleted or unreadable; decode errors already are InvalidDataException
        {
            throw new InvalidDataException($"Cannot read training image '{path}': {e.Message}", e);
        }
        var crop = AdmCenterCrop.Apply(pixels, h, w, Channels, ImageSize);
        Pixels.ToUnitChw(crop, ImageSize, ImageSize, Channels, (1, ImageSize * Channels, Channels), dest, Channels, ImageSize);
        return NumClasses is null ? 0 : _labels[index];
    }

    public string Describe(int index) => _files[index];

    static void ListRecursively(string dir, List<string> results)
    {
        var entries = System.IO.Directory.EnumerateFileSystemEntries(dir).ToArray();
        Array.Sort(entries, StringComparer.Ordinal);
        foreach (var full in entries)
        {
            var name = Path.GetFileName(full);
            var ext = name.Split('.')[^1];
            if (name.Contains('.') && Extensions.Contains(ext) && File.Exists(full))
                results.Add(full);
            else if (System.IO.Directory.Exists(full))
                ListRecursively(full, results);
        }
    }
}
