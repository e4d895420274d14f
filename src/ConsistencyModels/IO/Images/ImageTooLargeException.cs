namespace ConsistencyModels.IO.Images;

/// <summary>
/// An image file whose header declares more pixels a side than <see cref="ReadLimits.MaxImageSide"/> allows: refused
/// before decoding, since a few hundred kilobytes of PNG can declare gigabytes of pixels. An <see cref="IOException"/>,
/// like the other ways a file can be unusable.
/// </summary>
public sealed class ImageTooLargeException(string message) : IOException(message);
