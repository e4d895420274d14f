// Dataset picker for --data_dir — the role of cm/image_datasets.py::load_data, extended to IDX and npz inputs.
using ConsistencyModels.IO;

namespace ConsistencyModels.Data;

public static class TrainingData
{
    /// <summary>
    /// Opens <paramref name="path"/> as a training set: a directory holding IDX image files → <see cref="IdxDataset"/>
    /// (the train-* one when there are several); any other directory → <see cref="ImageFolderDataset"/>;
    /// *.npz / *.npy → <see cref="NpzDataset"/>; *idx3-ubyte[.gz] → <see cref="IdxDataset"/>.
    /// With <paramref name="classCond"/> the labels must exist; without, they are ignored (NumClasses null).
    /// <paramref name="limits"/> (default <see cref="ReadLimits.Default"/>) bounds the images of an image folder.
    /// </summary>
    public static ITrainingDataset Open(string path, int imageSize, int channels, bool classCond, ReadLimits? limits = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (imageSize < 1) throw new ArgumentOutOfRangeException(nameof(imageSize), imageSize, "The image size must be positive.");
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "Channels must be 1 or 3.");
        if (Directory.Exists(path))
        {
            var idx = Directory.GetFiles(path).Where(IdxDataset.IsImagesFileName).Order(StringComparer.Ordinal).ToArray();
            if (idx.Length == 0)
                return new ImageFolderDataset(path, imageSize, channels, classCond, limits);
            var train = idx.Where(f => Path.GetFileName(f).StartsWith("train", StringComparison.OrdinalIgnoreCase)).ToArray();
            var pick = idx.Length == 1 ? idx[0] : train.Length == 1 ? train[0]
                : throw new ArgumentException($"'{path}' holds several IDX image files ({string.Join(", ", idx.Select(Path.GetFileName))}); pass the one to train on.", nameof(path));
            return new IdxDataset(pick, imageSize, channels: channels, classCond: classCond);
        }
        if (!File.Exists(path))
            throw new FileNotFoundException($"Training data '{path}' does not exist (expected an image folder, an IDX images file, or an .npz/.npy file).", path);
        var ext = Path.GetExtension(path).ToLowerInvariant();
        if (ext is ".npz" or ".npy")
            return new NpzDataset(path, imageSize, channels, classCond);
        if (IdxDataset.IsImagesFileName(path))
            return new IdxDataset(path, imageSize, channels: channels, classCond: classCond);
        throw new ArgumentException(
            $"Cannot tell what kind of training data '{path}' is: expected a directory of images, an IDX images file (*-images-idx3-ubyte[.gz]) or an .npz/.npy file.", nameof(path));
    }
}
