using System.IO.Hashing;
using TorchSharp;
using static TorchSharp.torch;

namespace ConsistencyModels.IO.Checkpoints;

/// <summary>
/// Raw little-endian tensor bytes to and from a stream, straight through the tensor's native memory in chunks: no
/// per-element loops, no second full-size managed copy, and no 2 GiB Span limit on large tensors.
/// </summary>
internal static class TensorStreams
{
    internal const int ChunkBytes = 16 << 20;

    static TensorStreams()
    {
        // Every format read and written here is little-endian; a big-endian host would need byte swapping.
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("checkpoint I/O needs a little-endian CPU");
    }

    /// <summary>
    /// Fills the contiguous CPU tensor <paramref name="destination"/> from <paramref name="source"/>; appends the bytes
    /// read to <paramref name="crc"/>, for callers that can check one.
    /// </summary>
    public static void ReadInto(Stream source, Tensor destination, string what, Crc32? crc = null)
    {
        using var flat = destination.reshape(-1); // a view: the tensor is contiguous
        ForEachChunk(flat, span =>
        {
            try { source.ReadExactly(span); }
            catch (EndOfStreamException e)
            {
                throw new CheckpointFormatException($"{what}: the data ends early (truncated file?)", e);
            }
            crc?.Append(span);
        });
    }

    /// <summary>Writes the elements of <paramref name="tensor"/> (any device or layout) in row-major order.</summary>
    public static void Write(Stream destination, Tensor tensor)
    {
        using var scope = NewDisposeScope();
        var t = tensor.detach();
        if (t.device_type != DeviceType.CPU) t = t.cpu();
        if (!t.is_contiguous()) t = t.contiguous();
        ForEachChunk(t.reshape(-1), span => destination.Write(span));
    }

    private delegate void SpanAction(Span<byte> span);

    private static void ForEachChunk(Tensor flat, SpanAction action)
    {
        long n = flat.numel();
        if (n == 0) return;
        long perChunk = Math.Max(1, ChunkBytes / flat.element_size());
        for (long start = 0; start < n; start += perChunk)
        {
            // A narrow of a contiguous 1-D tensor is contiguous, and `bytes` spans exactly its elements.
            using var chunk = flat.narrow(0, start, Math.Min(perChunk, n - start));
            action(chunk.bytes);
        }
    }
}
