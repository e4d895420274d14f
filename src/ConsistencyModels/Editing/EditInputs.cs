// Reference images and masks for editing: image files (ADM centre crop to the model size), dataset entries, mask images.
using ConsistencyModels.IO;
using ConsistencyModels.IO.Images;
using ConsistencyModels.Data;
using static TorchSharp.torch;

namespace ConsistencyModels.Editing;

/// <summary>Images as a [B, C, S, S] float32 tensor in [−1, 1], their dataset labels (if any) and what was done to fit them.</summary>
public sealed record EditImages(Tensor Images, IReadOnlyList<int>? Labels, IReadOnlyList<string> Notes);

public static class EditInputs
{
    /// <summary>
    /// Image files (png/jpg/...), converted to the model's channels and centre-cropped/resized to <paramref name="size"/>.
    /// Images above <see cref="ReadLimits.MaxImageSide"/> (default <see cref="ReadLimits.Default"/>) are refused from their header.
    /// </summary>
    public static EditImages FromFiles(IReadOnlyList<string> paths, int size, int channels, ReadLimits? limits = null)
    {
        if (paths.Count == 0) throw new ArgumentException("no input images given");
        var data = new float[paths.Count * channels * size * size];
        var notes = new List<string>();
        for (int i = 0; i < paths.Count; i++)
        {
            var path = paths[i];
            if (!File.Exists(path)) throw new FileNotFoundException($"input image '{path}' does not exist", path);
            byte[] pixels; int h, w;
            try { (pixels, h, w) = channels == 3 ? ImageIO.LoadRgb(path, limits) : ImageIO.LoadGray(path, limits); }
            catch (Exception e) when (e is (InvalidDataException or ArgumentException or IOException) and not ImageTooLargeException)
            {
                throw new InvalidDataException($"input '{path}' is not a readable image ({e.Message})", e);
            }
            if (h != size || w != size) notes.Add($"{path}: {w}x{h} centre-cropped and resized to {size}x{size} (the model's size)");
            var crop = AdmCenterCrop.Apply(pixels, h, w, channels, size);
            Pixels.ToUnitChw(crop, size, size, channels, (1, size * channels, channels),
                             data.AsSpan(i * channels * size * size, channels * size * size), channels, size);
        }
        return new EditImages(tensor(data, [paths.Count, channels, size, size]), null, notes);
    }

    /// <summary>Entries <paramref name="indices"/> of a training-format dataset (IDX, npz or image folder), with their labels.</summary>
    public static EditImages FromDataset(string path, IReadOnlyList<int> indices, int size, int channels, bool classCond,
                                         ReadLimits? limits = null)
    {
        if (indices.Count == 0) throw new ArgumentException("no dataset indices given");
        var ds = TrainingData.Open(path, size, channels, classCond, limits);
        var data = new float[indices.Count * channels * size * size];
        var labels = new int[indices.Count];
        for (int i = 0; i < indices.Count; i++)
        {
            if (indices[i] < 0 || indices[i] >= ds.Count) throw new ArgumentException($"index {indices[i]} is outside the dataset '{path}' (0..{ds.Count - 1})");
            labels[i] = ds.Read(indices[i], data.AsSpan(i * channels * size * size, channels * size * size));
        }
        return new EditImages(tensor(data, [indices.Count, channels, size, size]), classCond ? labels : null, []);
    }

    /// <summary>
    /// An inpainting mask image: white (&gt; 50%) = regenerate. Must be the model's size, which is checked in the header
    /// before anything is decoded. Returns the known-pixel mask [1, 1, S, S].
    /// </summary>
    public static Tensor MaskFromFile(string path, int size, ReadLimits? limits = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"mask '{path}' does not exist", path);
        byte[] gray; int h, w;
        try
        {
            (h, w) = ImageIO.ReadSize(path);
            if (h != size || w != size)
                throw new ArgumentException($"mask '{path}' is {w}x{h}, but the model generates {size}x{size} images: give a mask of that size (white = regenerate)");
            (gray, h, w) = ImageIO.LoadGray(path, limits);
        }
        catch (Exception e) when (e is (InvalidDataException or IOException) and not ImageTooLargeException)
        {
            throw new InvalidDataException($"mask '{path}' is not a readable image ({e.Message})", e);
        }
        var known = gray.Select(b => b > 127 ? 0f : 1f).ToArray();
        return tensor(known, [1, 1, size, size]);
    }

    /// <summary>The default inpainting mask: regenerate the centre square of half the side (the official CIFAR-10 notebook's).</summary>
    public static Tensor CentreSquareMask(int size)
    {
        var known = ones(1, 1, size, size);
        known[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(size / 4, size - size / 4), TensorIndex.Slice(size / 4, size - size / 4)] = tensor(0f);
        return known;
    }
}
