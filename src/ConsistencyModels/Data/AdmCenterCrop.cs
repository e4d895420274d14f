// ADM centre crop — port of cm/image_datasets.py::center_crop_arr (BOX halvings, BICUBIC resize, centre crop).
namespace ConsistencyModels.Data;

public static class AdmCenterCrop
{
    /// <summary>
    /// Crops an HWC uint8 image (c channels) to size×size like center_crop_arr: while the short side is at least
    /// 2·size, BOX-resize to (w // 2, h // 2); then BICUBIC-resize so the short side is size (long side
    /// round(x·scale), half to even as Python's round); then take the centre, offset (dim − size) // 2.
    /// Resizing reproduces Pillow's output bit for bit.
    /// </summary>
    public static byte[] Apply(byte[] hwc, int h, int w, int c, int size)
    {
        ArgumentNullException.ThrowIfNull(hwc);
        if (size < 1) throw new ArgumentOutOfRangeException(nameof(size), size, "The crop size must be positive.");
        if (h < 1 || w < 1 || hwc.LongLength != (long)h * w * c)
            throw new ArgumentException($"Expected {h}x{w}x{c} bytes, got {hwc.LongLength}.", nameof(hwc));
        var img = hwc;
        while (Math.Min(w, h) >= 2 * size)
        {
            img = PilResample.Resize(img, w, h, c, w / 2, h / 2, PilResample.Filter.Box);
            (w, h) = (w / 2, h / 2);
        }
        var scale = (double)size / Math.Min(w, h);
        int nw = (int)Math.Round(w * scale, MidpointRounding.ToEven), nh = (int)Math.Round(h * scale, MidpointRounding.ToEven);
        img = PilResample.Resize(img, w, h, c, nw, nh, PilResample.Filter.Bicubic);
        int top = (nh - size) / 2, left = (nw - size) / 2;
        var outp = new byte[size * size * c];
        for (var y = 0; y < size; y++)
            Array.Copy(img, ((top + y) * nw + left) * c, outp, y * size * c, size * c);
        return outp;
    }
}
