using ConsistencyModels.IO.Numpy;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace ConsistencyModels.IO.Images;

/// <summary>PNG/JPEG writing and image decoding with SkiaSharp, on plain HWC/NHWC uint8 buffers.</summary>
public static class ImageIO
{
    const int JpegQuality = 95;

    /// <summary>
    /// Saves n images as one grid, laid out like torchvision.utils.make_grid: rows of <paramref name="columns"/>
    /// images (default ceil(sqrt(n))), <paramref name="padding"/> pixels of value 0 around and between them.
    /// As in make_grid, a single image is written as-is, without padding.
    /// </summary>
    public static void SaveGrid(string path, byte[] nhwc, int n, int h, int w, int c, int? columns = null, int padding = 2)
    {
        var format = FormatFor(path);
        ArgumentNullException.ThrowIfNull(nhwc);
        CheckDims(h, w, c);
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "A grid needs at least one image.");
        if (padding < 0) throw new ArgumentOutOfRangeException(nameof(padding), padding, "Padding cannot be negative.");
        if (columns is < 1) throw new ArgumentOutOfRangeException(nameof(columns), columns, "Columns must be at least 1.");
        if (nhwc.LongLength != (long)n * h * w * c)
            throw new ArgumentException($"Expected {(long)n * h * w * c} bytes for {n}x{h}x{w}x{c}, got {nhwc.LongLength}.", nameof(nhwc));

        if (n == 1)
        {
            Encode(path, format, nhwc, h, w, c);
            return;
        }
        var (gh, gw) = GridSize(n, h, w, columns, padding);
        var xmaps = Math.Min(columns ?? DefaultColumns(n), n);
        var grid = new byte[checked(gh * gw * c)]; // zero = padding value
        var row = w * c;
        for (var k = 0; k < n; k++)
        {
            int top = k / xmaps * (h + padding) + padding, left = k % xmaps * (w + padding) + padding;
            for (var y = 0; y < h; y++)
                Array.Copy(nhwc, ((long)k * h + y) * row, grid, ((long)(top + y) * gw + left) * c, row);
        }
        Encode(path, format, grid, gh, gw, c);
    }

    /// <summary>Grid of a uint8 tensor shaped [N, H, W, C] (C = 1 or 3), e.g. the output of <see cref="ToUint8Nhwc"/>.</summary>
    public static void SaveGrid(string path, Tensor uint8Nhwc, int? columns = null)
    {
        var (n, h, w, c, data) = Nhwc(uint8Nhwc);
        SaveGrid(path, data, n, h, w, c, columns);
    }

    /// <summary>
    /// Grid height and width in pixels for n images, as make_grid computes them:
    /// rows = ceil(n / cols), size = rows * (h + padding) + padding by cols * (w + padding) + padding.
    /// </summary>
    public static (int height, int width) GridSize(int n, int h, int w, int? columns = null, int padding = 2)
    {
        if (n == 1) return (h, w);
        var xmaps = Math.Min(columns ?? DefaultColumns(n), n);
        var ymaps = (n + xmaps - 1) / xmaps;
        return (checked(ymaps * (h + padding) + padding), checked(xmaps * (w + padding) + padding));
    }

    static int DefaultColumns(int n) => (int)Math.Ceiling(Math.Sqrt(n));

    /// <summary>Saves one HWC image as PNG, losslessly (read back with <see cref="LoadRgb"/>/<see cref="LoadGray"/> it is identical).</summary>
    public static void SavePng(string path, byte[] hwc, int h, int w, int c)
    {
        ArgumentNullException.ThrowIfNull(hwc);
        CheckDims(h, w, c);
        if (!Path.GetExtension(path).Equals(".png", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"SavePng writes PNG; '{path}' should end in .png.", nameof(path));
        if (hwc.LongLength != (long)h * w * c)
            throw new ArgumentException($"Expected {(long)h * w * c} bytes for {h}x{w}x{c}, got {hwc.LongLength}.", nameof(hwc));
        Encode(path, SKEncodedImageFormat.Png, hwc, h, w, c);
    }

    /// <summary>
    /// Decodes an image to RGB HWC bytes; alpha is dropped (not composited) and EXIF orientation ignored, like PIL's
    /// convert("RGB"). An image larger than <see cref="ReadLimits.MaxImageSide"/> a side is refused from its header
    /// (<see cref="ImageTooLargeException"/>) before any pixel is decoded.
    /// </summary>
    public static (byte[] data, int h, int w) LoadRgb(string path, ReadLimits? limits = null)
    {
        var (rgba, h, w) = DecodeRgba(path, limits ?? ReadLimits.Default);
        var rgb = new byte[(long)h * w * 3];
        for (long i = 0, j = 0; j < rgb.LongLength; i += 4, j += 3)
        {
            rgb[j] = rgba[i];
            rgb[j + 1] = rgba[i + 1];
            rgb[j + 2] = rgba[i + 2];
        }
        return (rgb, h, w);
    }

    /// <summary>
    /// Decodes an image to grayscale HW bytes with PIL's convert("L") weights (ITU-R 601-2, rounded); gray images come
    /// back unchanged. Size limit as in <see cref="LoadRgb"/>.
    /// </summary>
    public static (byte[] data, int h, int w) LoadGray(string path, ReadLimits? limits = null)
    {
        var (rgba, h, w) = DecodeRgba(path, limits ?? ReadLimits.Default);
        var gray = new byte[(long)h * w];
        for (long i = 0, j = 0; j < gray.LongLength; i += 4, j++)
            gray[j] = (byte)((rgba[i] * 19595 + rgba[i + 1] * 38470 + rgba[i + 2] * 7471 + 0x8000) >> 16);
        return (gray, h, w);
    }

    /// <summary>
    /// The reference sampler's conversion of model output in [-1, 1] (NCHW, float) to uint8 NHWC:
    /// ((x + 1) * 127.5).clamp(0, 255).to(uint8), which truncates toward zero, then permute + contiguous.
    /// Computed in float32 (other float inputs are converted first) for bit parity with PyTorch.
    /// The result stays on the input's device.
    /// </summary>
    public static Tensor ToUint8Nhwc(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.dim() != 4)
            throw new ArgumentException($"Expected an NCHW tensor, got shape [{string.Join(", ", x.shape)}].", nameof(x));
        if (!x.is_floating_point())
            throw new ArgumentException($"Expected a floating-point tensor, got {x.dtype}.", nameof(x));
        using var scope = NewDisposeScope();
        var f = x.dtype == ScalarType.Float32 ? x : x.to_type(ScalarType.Float32);
        var u8 = ((f + 1) * 127.5).clamp(0, 255).to_type(ScalarType.Byte);
        return scope.MoveToOuter(u8.permute(0, 2, 3, 1).contiguous());
    }

    static (int n, int h, int w, int c, byte[] data) Nhwc(Tensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        if (t.dtype != ScalarType.Byte || t.dim() != 4)
            throw new ArgumentException($"Expected a uint8 [N, H, W, C] tensor, got {t.dtype} [{string.Join(", ", t.shape)}].", nameof(t));
        var data = NpyArray.FromTensor("image", t).Data;
        return (checked((int)t.shape[0]), checked((int)t.shape[1]), checked((int)t.shape[2]), checked((int)t.shape[3]), data);
    }

    static void CheckDims(int h, int w, int c)
    {
        if (h < 1 || w < 1) throw new ArgumentException($"Image size {h}x{w} must be positive.");
        if (c is not (1 or 3)) throw new ArgumentException($"Channels must be 1 (grayscale) or 3 (RGB), got {c}.", nameof(c));
    }

    static SKEncodedImageFormat FormatFor(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".png" => SKEncodedImageFormat.Png,
            ".jpg" or ".jpeg" => SKEncodedImageFormat.Jpeg,
            var ext => throw new ArgumentException(
                $"Cannot save '{path}': unsupported image extension '{ext}' (use .png, .jpg or .jpeg).", nameof(path)),
        };
    }

    /// <summary>Encodes HWC bytes (c = 1 or 3) and writes them atomically.</summary>
    static void Encode(string path, SKEncodedImageFormat format, byte[] hwc, int h, int w, int c)
    {
        // Skia has no packed 24-bit RGB type: widen to opaque RGBA, which the PNG encoder stores as plain RGB.
        SKImageInfo info;
        byte[] pixels;
        if (c == 1)
        {
            info = new SKImageInfo(w, h, SKColorType.Gray8, SKAlphaType.Opaque);
            pixels = hwc;
        }
        else
        {
            info = new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Opaque);
            pixels = new byte[checked((long)h * w * 4)];
            for (long i = 0, j = 0; i < pixels.LongLength; i += 4, j += 3)
            {
                pixels[i] = hwc[j];
                pixels[i + 1] = hwc[j + 1];
                pixels[i + 2] = hwc[j + 2];
                pixels[i + 3] = 255;
            }
        }
        using var image = SKImage.FromPixelCopy(info, pixels, info.RowBytes)
            ?? throw new InvalidOperationException($"SkiaSharp could not wrap a {w}x{h} image.");
        using var encoded = image.Encode(format, format == SKEncodedImageFormat.Jpeg ? JpegQuality : 100)
            ?? throw new InvalidOperationException($"SkiaSharp could not encode '{path}' as {format}.");
        AtomicFile.Write(path, encoded.SaveTo);
    }

    /// <summary>Height and width from the image's header, without decoding a pixel (a small file can hold a huge image).</summary>
    public static (int h, int w) ReadSize(string path)
    {
        using var codec = OpenCodec(path);
        return (codec.Info.Height, codec.Info.Width);
    }

    static SKCodec OpenCodec(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Image file '{path}' does not exist.", path);
        // Before opening: a FIFO would block the open.
        if (InputFiles.IsEmptyOrNotRegular(path))
            throw new InvalidDataException($"'{path}': {InputFiles.EmptyOrNotRegular}, not an image.");
        return SKCodec.Create(path, out var created)
            ?? throw new InvalidDataException($"'{path}' is not an image SkiaSharp can decode ({created}).");
    }

    static (byte[] rgba, int h, int w) DecodeRgba(string path, ReadLimits limits)
    {
        using var codec = OpenCodec(path);
        if (codec.Info.Width > limits.MaxImageSide || codec.Info.Height > limits.MaxImageSide)
            throw new ImageTooLargeException(
                $"'{path}' is {codec.Info.Width}x{codec.Info.Height} pixels, above the limit of {limits.MaxImageSide} a side (`MaxImageSide`).");
        // No color space on the destination: pixels come back as stored, with no ICC/gamma conversion (like PIL).
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var rgba = new byte[info.BytesSize64];
        var result = codec.GetPixels(info, rgba);
        if (result != SKCodecResult.Success)
            throw new InvalidDataException($"'{path}' could not be fully decoded by SkiaSharp ({result}).");
        return (rgba, info.Height, info.Width);
    }
}
