using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace ConsistencyModels.IO.Numpy;

/// <summary>The .npy format (numpy/lib/format.py), byte-compatible with <c>numpy.save</c>.</summary>
public static partial class Npy
{
    internal static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];
    const int ArrayAlign = 64;          // numpy ARRAY_ALIGN
    const int GrowthAxisMaxDigits = 21; // numpy GROWTH_AXIS_MAX_DIGITS

    public static void Write(string path, NpyArray array)
    {
        ArgumentNullException.ThrowIfNull(array);
        AtomicFile.Write(path, s => WriteTo(s, array));
    }

    /// <summary>Reads a .npy file; the array is named after the file (without extension).</summary>
    public static NpyArray Read(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"npy file '{path}' does not exist.", path);
        // Before opening: a FIFO would block the open.
        if (InputFiles.IsEmptyOrNotRegular(path)) throw new InvalidDataException($"'{path}': {InputFiles.EmptyOrNotRegular}, not a .npy array.");
        using var fs = File.OpenRead(path);
        return ReadFrom(fs, Path.GetFileNameWithoutExtension(path), $"'{path}'", fs.Length);
    }

    internal static void WriteTo(Stream s, NpyArray array)
    {
        s.Write(Header(array));
        s.Write(array.Data);
    }

    /// <summary>Everything before the data: magic, version, header length and the padded dict.</summary>
    internal static byte[] Header(NpyArray array)
    {
        var shape = ShapeRepr(array.Shape);
        var dict = $"{{'descr': '{array.Descr}', 'fortran_order': False, 'shape': {shape}, }}";
        // Recent numpy pads the dict so axis 0 can grow in place (GROWTH_AXIS_MAX_DIGITS); numpy.save writes it.
        if (array.Shape.Length > 0)
            dict += new string(' ', Math.Max(0, GrowthAxisMaxDigits - array.Shape[0].ToString(CultureInfo.InvariantCulture).Length));

        // Version 1.0 has a 2-byte length, 2.0 a 4-byte one; numpy uses 2.0 only when 1.0 cannot hold the header.
        foreach (var (major, lenSize) in new[] { (1, 2), (2, 4) })
        {
            var hlen = dict.Length + 1; // + '\n'
            // Always 1..64 spaces, exactly like numpy (an aligned header still gets 64).
            var pad = ArrayAlign - (Magic.Length + 2 + lenSize + hlen) % ArrayAlign;
            var total = hlen + pad;
            if (lenSize == 2 && total > ushort.MaxValue)
                continue;
            var buf = new byte[Magic.Length + 2 + lenSize + total];
            Magic.CopyTo(buf, 0);
            buf[6] = (byte)major;
            buf[7] = 0;
            if (lenSize == 2)
                BinaryPrimitives.WriteUInt16LittleEndian(buf.AsSpan(8), (ushort)total);
            else
                BinaryPrimitives.WriteUInt32LittleEndian(buf.AsSpan(8), (uint)total);
            var at = 8 + lenSize;
            at += Encoding.Latin1.GetBytes(dict, buf.AsSpan(at));
            buf.AsSpan(at, pad).Fill((byte)' ');
            buf[^1] = (byte)'\n';
            return buf;
        }
        throw new InvalidOperationException("unreachable");
    }

    /// <summary>Python's repr of a shape tuple: (), (4,), (4, 64, 64, 3).</summary>
    internal static string ShapeRepr(long[] shape) => shape.Length switch
    {
        0 => "()",
        1 => $"({shape[0].ToString(CultureInfo.InvariantCulture)},)",
        _ => "(" + string.Join(", ", shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + ")",
    };

    /// <summary>
    /// Reads one array from a stream positioned at the magic string, of which <paramref name="available"/> bytes (header
    /// and data) belong to the array: a header whose shape needs more is refused before anything is allocated.
    /// </summary>
    internal static NpyArray ReadFrom(Stream s, string name, string source, long available)
    {
        var (dtype, shape) = ReadHeader(s, name, source, available);
        var size = NpyArray.ElementCountOf(shape) * dtype.ItemSize(); // fits: ReadHeader checked it against the file
        if (size > Array.MaxLength)
            throw new NotSupportedException($"{source}: array '{name}' has {size} bytes, more than one .NET array can hold.");
        var data = new byte[size];
        ReadExactly(s, data, source);
        return new NpyArray(name, dtype, shape, data);
    }

    /// <summary>
    /// Reads the magic and header of one array, leaving the stream at its data. The shape must fit the
    /// <paramref name="available"/> bytes (header included): sizes come from the file, so they are checked against it.
    /// </summary>
    internal static (NpyDtype Dtype, long[] Shape) ReadHeader(Stream s, string name, string source, long available)
    {
        var (dtype, shape, headerBytes) = ReadHeaderOnly(s, name, source);
        long size;
        try { size = checked(NpyArray.ElementCountOf(shape) * dtype.ItemSize()); }
        catch (OverflowException)
        {
            throw new InvalidDataException($"{source}: array '{InputText.Clip(name)}' has shape {InputText.Clip(ShapeRepr(shape))}, too large for any file.");
        }
        if (size > available - headerBytes)
            throw new InvalidDataException(
                $"{source}: array '{InputText.Clip(name)}' has shape {InputText.Clip(ShapeRepr(shape))} of {dtype.Descr()} ({size} bytes), " +
                $"but only {Math.Max(0, available - headerBytes)} bytes follow its header: the file is truncated, corrupt or crafted.");
        return (dtype, shape);
    }

    private static (NpyDtype Dtype, long[] Shape, long HeaderBytes) ReadHeaderOnly(Stream s, string name, string source)
    {
        Span<byte> pre = stackalloc byte[8];
        if (ReadAtMost(s, pre) < 8 || !pre[..6].SequenceEqual(Magic))
            throw new InvalidDataException($"{source} is not a .npy array (missing the \\x93NUMPY magic).");
        int major = pre[6], minor = pre[7];
        long hlen;
        Encoding enc;
        switch (major, minor)
        {
            case (1, 0):
                Span<byte> l2 = stackalloc byte[2];
                ReadExactly(s, l2, source);
                hlen = BinaryPrimitives.ReadUInt16LittleEndian(l2);
                enc = Encoding.Latin1;
                break;
            case (2, 0) or (3, 0):
                Span<byte> l4 = stackalloc byte[4];
                ReadExactly(s, l4, source);
                hlen = BinaryPrimitives.ReadUInt32LittleEndian(l4);
                enc = major == 3 ? Encoding.UTF8 : Encoding.Latin1;
                break;
            default:
                throw new NotSupportedException($"{source}: .npy format version {major}.{minor} is not supported (1.0, 2.0, 3.0 are).");
        }
        if (hlen > 1 << 24)
            throw new InvalidDataException($"{source}: implausible .npy header length {hlen}.");
        var hbytes = new byte[hlen];
        ReadExactly(s, hbytes, source);
        var (dtype, fortran, shape) = ParseHeader(enc.GetString(hbytes), source);
        if (fortran)
            throw new NotSupportedException(
                $"{source}: array '{InputText.Clip(name)}' is stored in Fortran order; only C order is supported (save np.ascontiguousarray(arr) instead).");
        return (dtype, shape, 8 + (major == 1 ? 2 : 4) + hlen);
    }

    /// <summary>Parses the Python dict literal numpy writes (keys in any order, either quote style).</summary>
    internal static (NpyDtype dtype, bool fortran, long[] shape) ParseHeader(string header, string source)
    {
        var h = header.Trim();
        if (!h.StartsWith('{') || !h.EndsWith('}'))
            throw new InvalidDataException($"{source}: .npy header is not a dict: {InputText.Clip(header.TrimEnd())}");
        var descr = DescrRegex().Match(h);
        if (!descr.Success)
        {
            if (Regex.IsMatch(h, @"['""]descr['""]\s*:\s*\["))
                throw new NotSupportedException($"{source}: structured (record) numpy dtypes are not supported.");
            throw new InvalidDataException($"{source}: .npy header has no 'descr': {InputText.Clip(h)}");
        }
        var fortran = FortranRegex().Match(h);
        var shape = ShapeRegex().Match(h);
        if (!fortran.Success || !shape.Success)
            throw new InvalidDataException($"{source}: .npy header lacks 'fortran_order' or 'shape': {InputText.Clip(h)}");

        var dims = shape.Groups[1].Value
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(d => long.TryParse(d.TrimEnd('L', 'l'), NumberStyles.None, CultureInfo.InvariantCulture, out var v)
                ? v
                : throw new InvalidDataException($"{source}: bad dimension '{InputText.Clip(d)}' in .npy shape {InputText.Clip(shape.Value)}."))
            .ToArray();
        return (NpyDtypeExtensions.ParseDescr(descr.Groups[1].Value), fortran.Groups[1].Value == "True", dims);
    }

    [GeneratedRegex(@"['""]descr['""]\s*:\s*['""]([^'""]*)['""]")]
    private static partial Regex DescrRegex();

    [GeneratedRegex(@"['""]fortran_order['""]\s*:\s*(True|False)")]
    private static partial Regex FortranRegex();

    [GeneratedRegex(@"['""]shape['""]\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapeRegex();

    static int ReadAtMost(Stream s, Span<byte> buf)
    {
        var total = 0;
        while (total < buf.Length)
        {
            var n = s.Read(buf[total..]);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    static void ReadExactly(Stream s, Span<byte> buf, string source)
    {
        if (ReadAtMost(s, buf) < buf.Length)
            throw new InvalidDataException($"{source}: .npy data is truncated.");
    }
}
