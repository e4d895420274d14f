// Training dataset contract — the role of cm/image_datasets.py::ImageDataset (one preprocessed sample per index).
namespace ConsistencyModels.Data;

/// <summary>
/// A fixed, indexable set of training images, already preprocessed to square float32 CHW in [-1, 1].
/// <see cref="Read"/> may be called concurrently from several threads (the <see cref="BatchLoader"/> decodes a batch in parallel).
/// </summary>
public interface ITrainingDataset
{
    int Count { get; }
    /// <summary>1 or 3.</summary>
    int Channels { get; }
    /// <summary>Square side after preprocessing.</summary>
    int ImageSize { get; }
    /// <summary>null = unconditional.</summary>
    int? NumClasses { get; }

    /// <summary>
    /// Writes sample <paramref name="index"/> as float32 CHW in [-1, 1] into <paramref name="dest"/>
    /// (length Channels*ImageSize*ImageSize); returns its class label (0 if unconditional).
    /// Throws <see cref="InvalidDataException"/> (message names the file) for an unreadable sample.
    /// </summary>
    int Read(int index, Span<float> dest);

    /// <summary>Where sample <paramref name="index"/> comes from, e.g. the file path, or "train-images-idx3-ubyte.gz #123".</summary>
    string Describe(int index);
}
