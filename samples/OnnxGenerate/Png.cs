// A minimal PNG encoder: 8-bit gray or RGB, no filtering, one IDAT chunk compressed with System.IO.Compression's ZLibStream.
using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace OnnxGenerate;

internal static class Png
{
    /// <summary>Writes <paramref name="hwc"/> (height × width × channels bytes, channels 1 or 3) as a PNG file.</summary>
    public static void Write(string path, byte[] hwc, int height, int width, int channels)
    {
        if (channels is not (1 or 3)) throw new ArgumentException($"PNG here takes 1 or 3 channels (got {channels})");
        if (hwc.Length != height * width * channels) throw new ArgumentException("pixel count does not match the size");
        using var file = File.Create(path);
        file.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);

        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8;                                   // bit depth
        header[9] = (byte)(channels == 1 ? 0 : 2);       // colour type: gray or RGB
        Chunk(file, "IHDR", header);                     // compression, filter, interlace: 0

        using var raw = new MemoryStream();
        using (var z = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
        {
            int stride = width * channels;
            for (int y = 0; y < height; y++)
            {
                z.WriteByte(0);                          // filter type None
                z.Write(hwc, y * stride, stride);
            }
        }
        Chunk(file, "IDAT", raw.ToArray());
        Chunk(file, "IEND", []);
    }

    private static void Chunk(Stream s, string type, byte[] data)
    {
        Span<byte> four = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(four, data.Length);
        s.Write(four);
        var typeBytes = Encoding.ASCII.GetBytes(type);
        s.Write(typeBytes);
        s.Write(data);
        uint crc = Crc32(Crc32(0xFFFFFFFFu, typeBytes), data) ^ 0xFFFFFFFFu;
        BinaryPrimitives.WriteUInt32BigEndian(four, crc);
        s.Write(four);
    }

    private static readonly uint[] Table = [.. Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        return c;
    })];

    private static uint Crc32(uint crc, byte[] data)
    {
        foreach (var b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
    }
}
