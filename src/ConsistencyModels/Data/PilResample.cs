// Pillow's separable resampling (libImaging/Resample.c, 8 bits per channel) — the BOX and BICUBIC resizes used by cm/image_datasets.py.
namespace ConsistencyModels.Data;

/// <summary>
/// A bit-exact managed port of <c>PIL.Image.resize</c> for uint8 images (modes "L" and "RGB"): per-axis
/// convolution whose kernel widens by the downscale factor (antialiasing), 22-bit fixed-point coefficients,
/// horizontal pass first with a uint8 intermediate, and a pass skipped when its size does not change.
/// </summary>
internal static class PilResample
{
    public enum Filter { Box, Bicubic }

    const int PrecisionBits = 32 - 8 - 2;

    /// <summary>Resizes interleaved HWC bytes with <paramref name="c"/> channels from w×h to outW×outH.</summary>
    public static byte[] Resize(byte[] hwc, int w, int h, int c, int outW, int outH, Filter filter)
    {
        if (outW < 1 || outH < 1) throw new ArgumentException($"Cannot resize {w}x{h} to {outW}x{outH}.");
        var img = hwc;
        if (outW != w)
        {
            var (bounds, kk, ksize) = Coefficients(w, outW, filter);
            var tmp = new byte[checked(outW * h * c)];
            for (var y = 0; y < h; y++)
                for (var xx = 0; xx < outW; xx++)
                    for (var ch = 0; ch < c; ch++)
                    {
                        int xmin = bounds[2 * xx], n = bounds[2 * xx + 1], ss = 1 << (PrecisionBits - 1);
                        for (var x = 0; x < n; x++)
                            ss += img[(y * w + xmin + x) * c + ch] * kk[xx * ksize + x];
                        tmp[(y * outW + xx) * c + ch] = Clip8(ss);
                    }
            img = tmp;
        }
        if (outH != h)
        {
            var (bounds, kk, ksize) = Coefficients(h, outH, filter);
            var row = outW * c;
            var tmp = new byte[checked(outH * row)];
            for (var yy = 0; yy < outH; yy++)
            {
                int ymin = bounds[2 * yy], n = bounds[2 * yy + 1];
                for (var i = 0; i < row; i++)
                {
                    var ss = 1 << (PrecisionBits - 1);
                    for (var y = 0; y < n; y++)
                        ss += img[(ymin + y) * row + i] * kk[yy * ksize + y];
                    tmp[yy * row + i] = Clip8(ss);
                }
            }
            img = tmp;
        }
        return ReferenceEquals(img, hwc) ? (byte[])hwc.Clone() : img;
    }

    static byte Clip8(int v) => (byte)Math.Clamp(v >> PrecisionBits, 0, 255);

    /// <summary>precompute_coeffs + normalize_coeffs_8bpc for box (0, 0, inSize, ...): per output pixel (first input, count) and ksize weights.</summary>
    static (int[] bounds, int[] kk, int ksize) Coefficients(int inSize, int outSize, Filter filter)
    {
        double support0 = filter == Filter.Box ? 0.5 : 2.0;
        double scale = (double)inSize / outSize, filterscale = Math.Max(scale, 1.0);
        var support = support0 * filterscale;
        var ksize = (int)Math.Ceiling(support) * 2 + 1;
        var bounds = new int[2 * outSize];
        var kk = new int[outSize * ksize];
        var pre = new double[ksize];
        for (var xx = 0; xx < outSize; xx++)
        {
            var center = (xx + 0.5) * scale;
            var ss = 1.0 / filterscale;
            var xmin = Math.Max((int)(center - support + 0.5), 0);
            var xmax = Math.Min((int)(center + support + 0.5), inSize) - xmin;
            var ww = 0.0;
            for (var x = 0; x < xmax; x++)
            {
                var t = (x + xmin - center + 0.5) * ss;
                pre[x] = filter == Filter.Box ? (t > -0.5 && t <= 0.5 ? 1.0 : 0.0) : Bicubic(t);
                ww += pre[x];
            }
            for (var x = 0; x < xmax; x++)
            {
                var k = ww != 0.0 ? pre[x] / ww : pre[x];
                kk[xx * ksize + x] = k < 0 ? (int)(-0.5 + k * (1 << PrecisionBits)) : (int)(0.5 + k * (1 << PrecisionBits));
            }
            bounds[2 * xx] = xmin;
            bounds[2 * xx + 1] = xmax;
        }
        return (bounds, kk, ksize);
    }

    static double Bicubic(double x)
    {
        const double a = -0.5;
        if (x < 0.0) x = -x;
        if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
        return 0.0;
    }
}
