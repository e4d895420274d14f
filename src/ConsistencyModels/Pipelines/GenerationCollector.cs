// Assembles streamed GenerationBatch results into one ImageBatch (uint8 NHWC + labels), in sample order.
using ConsistencyModels.IO.Images;

namespace ConsistencyModels.Pipelines;

public sealed class GenerationCollector
{
    private readonly byte[] _images;
    private readonly long[]? _labels;
    private readonly int _count, _height, _width, _channels;

    /// <param name="conditional">Whether labels are collected (class-conditional model).</param>
    public GenerationCollector(int count, int height, int width, int channels, bool conditional)
    {
        long bytes = (long)count * height * width * channels;
        if (bytes > Array.MaxLength)
            throw new ArgumentException($"{count} images of {height}px ({bytes / 1e9:F1} GB) do not fit in one array: " +
                                        "consume them batch by batch (`GenerateBatches`)");
        (_count, _height, _width, _channels) = (count, height, width, channels);
        _images = new byte[bytes];
        _labels = conditional ? new long[count] : null;
    }

    public void Add(GenerationBatch b)
    {
        b.Images.CopyTo(_images.AsSpan(b.Start * _height * _width * _channels));
        b.Labels?.CopyTo(_labels!, b.Start);
    }

    public ImageBatch Result => new(_images, _count, _height, _width, _channels, _labels);
}
