// uint8 -> [-1, 1] float conversion — port of cm/image_datasets.py (arr.astype(np.float32) / 127.5 - 1, then HWC -> CHW).
namespace ConsistencyModels.Data;

internal static class Pixels
{
    /// <summary>b / 127.5 - 1 in float32, exactly as numpy computes it on a float32 array.</summary>
    static readonly float[] Unit = Enumerable.Range(0, 256).Select(b => (float)b / 127.5f - 1f).ToArray();

    /// <summary>The value of a black (0) pixel after scaling.</summary>
    public const float Black = -1f;

    /// <summary>
    /// Copies an h×w image with <paramref name="srcC"/> channels, addressed by the strides (channel, row, column),
    /// into a CHW float plane of side <paramref name="size"/> at (top, left), converting channels:
    /// 1 → 3 replicates, 3 → 1 uses PIL's convert("L") weights. Pixels outside the region are left untouched.
    /// </summary>
    public static void ToUnitChw(ReadOnlySpan<byte> src, int h, int w, int srcC, (int c, int y, int x) stride,
        Span<float> dest, int dstC, int size, int top = 0, int left = 0)
    {
        if (srcC != dstC && !(srcC == 1 && dstC == 3) && !(srcC == 3 && dstC == 1))
            throw new ArgumentException($"Cannot convert {srcC} channels to {dstC}.");
        var plane = size * size;
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                var s = y * stride.y + x * stride.x;
                var d = (top + y) * size + left + x;
                if (srcC == 3 && dstC == 1)
                {
                    int r = src[s], g = src[s + stride.c], b = src[s + 2 * stride.c];
                    dest[d] = Unit[(r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16];
                }
                else
                    for (var c = 0; c < dstC; c++)
                        dest[c * plane + d] = Unit[src[s + (srcC == 1 ? 0 : c * stride.c)]];
            }
    }

    /// <summary>Mirrors every row of every channel of a CHW image in place (numpy arr[:, ::-1] on HWC).</summary>
    public static void FlipHorizontal(Span<float> chw, int channels, int size)
    {
        for (var r = 0; r < channels * size; r++)
            chw.Slice(r * size, size).Reverse();
    }

    public static void CheckDest(ITrainingDataset data, int index, Span<float> dest)
    {
        if ((uint)index >= (uint)data.Count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"The dataset has {data.Count} samples.");
        var n = data.Channels * data.ImageSize * data.ImageSize;
        if (dest.Length != n)
            throw new ArgumentException($"dest must hold {data.Channels}x{data.ImageSize}x{data.ImageSize} = {n} floats, got {dest.Length}.", nameof(dest));
    }
}
