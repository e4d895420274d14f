// Reads the images back out of a grid PNG laid out like torchvision's make_grid, to check a grid's pixels, not its size.
using ConsistencyModels.IO.Images;
using Xunit;

namespace ConsistencyModels.Tests.Cli;

internal static class GridImages
{
    /// <summary>
    /// The n tiles (HWC bytes, c = 1 or 3) of a grid written with <paramref name="columns"/> images per row (null: as
    /// many as its width holds) and 2 px of zero padding around and between them (a single image has no padding);
    /// asserts the grid's size and that its padding is zero.
    /// </summary>
    public static byte[][] Read(string png, int n, int h, int w, int c, int? columns = null)
    {
        var (pixels, gh, gw) = c == 1 ? ImageIO.LoadGray(png) : ImageIO.LoadRgb(png);
        const int Pad = 2;
        int pad = n == 1 ? 0 : Pad, cols = Math.Min(columns ?? (n == 1 ? 1 : (gw - Pad) / (w + Pad)), n), rows = (n + cols - 1) / cols;
        Assert.Equal(n == 1 ? (h, w) : (rows * (h + Pad) + Pad, cols * (w + Pad) + Pad), (gh, gw));
        var tiles = new byte[n][];
        var inTile = new bool[gh * gw];
        for (int k = 0; k < n; k++)
        {
            int top = k / cols * (h + pad) + pad, left = k % cols * (w + pad) + pad;
            tiles[k] = new byte[h * w * c];
            for (int y = 0; y < h; y++)
            {
                Array.Copy(pixels, ((top + y) * gw + left) * c, tiles[k], y * w * c, w * c);
                for (int x = 0; x < w; x++) inTile[(top + y) * gw + left + x] = true;
            }
        }
        for (int i = 0; i < gh * gw; i++)
            if (!inTile[i])
                for (int ch = 0; ch < c; ch++) Assert.True(pixels[i * c + ch] == 0, $"{png}: padding pixel ({i / gw}, {i % gw}) is {pixels[i * c + ch]}, not 0");
        return tiles;
    }

    /// <summary>Image <paramref name="k"/> of an NHWC byte array.</summary>
    public static byte[] Image(byte[] nhwc, int k, int h, int w, int c) => nhwc.AsSpan(k * h * w * c, h * w * c).ToArray();
}
