namespace ConsistencyModels.IO;

/// <summary>
/// What reading one file (checkpoint, npz, image) may cost, so a small crafted file cannot take gigabytes, hours or
/// the process. The defaults are far above any real checkpoint, dataset or picture; a caller with an unusual but
/// honest file passes a copy with a larger field (<c>ReadLimits.Default with { MaxImageSide = 8192 }</c>).
/// </summary>
/// <remarks>
/// Sizes the file itself justifies are not limited: a 2 GB storage in a 2 GB file is read. What is bounded is what a
/// file can make the reader build beyond its own size: nesting, object counts, tensors expanded from fewer stored
/// bytes, compressed records and decoded pixels.
/// </remarks>
public sealed record ReadLimits
{
    /// <summary>The limits used when a caller passes none.</summary>
    public static ReadLimits Default { get; } = new();

    /// <summary>Containers nested inside one another in a pickle (real checkpoints: under 10).</summary>
    public int MaxPickleDepth { get; init; } = 1000;

    /// <summary>
    /// Values a pickle may create (each costs the reader tens of bytes, whatever the file's size; a checkpoint of a
    /// large model with its optimizer state has tens of thousands).
    /// </summary>
    public long MaxPickleObjects { get; init; } = 5_000_000;

    /// <summary>Characters of one dict key (tuple keys are spelled out, and shared tuples double at each level).</summary>
    public int MaxPickleKeyLength { get; init; } = 4096;

    /// <summary>Digits of one integer written as text (Python's own default limit is 4300; parsing is quadratic).</summary>
    public int MaxIntegerDigits { get; init; } = 4300;

    /// <summary>
    /// Bytes a checkpoint's tensors may take beyond the storage bytes the file holds: views that repeat elements
    /// (stride 0, overlapping) and one tensor listed under several names are each materialised as their own copy.
    /// </summary>
    public long MaxExpandedTensorBytes { get; init; } = 256L << 20;

    /// <summary>
    /// Uncompressed bytes of one compressed (deflated) record of a checkpoint: torch.save never compresses, so a large
    /// one is a repacked file at best and a zip bomb at worst.
    /// </summary>
    public long MaxDeflatedRecordBytes { get; init; } = 256L << 20;

    /// <summary>Pixels a side of an image read from a file (checked in the header, before any pixel is decoded).</summary>
    public int MaxImageSide { get; init; } = 4096;
}
