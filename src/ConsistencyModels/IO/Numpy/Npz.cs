using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace ConsistencyModels.IO.Numpy;

/// <summary>
/// .npz archives. <see cref="Write"/> reproduces <c>numpy.savez</c> byte for byte as the reference fixtures
/// were written (CPython zipfile on Linux: stored entries, 1980-01-01 timestamps, mode 0600, a forced zip64
/// local extra with the real 32-bit sizes beside it), so outputs can be compared by hash. CPython 3.11 and
/// older instead put 0xFFFFFFFF and version 4.5 in every forced-zip64 local header; readers accept both.
/// </summary>
public static class Npz
{
    const uint Zip64Limit = (1u << 31) - 1; // CPython zipfile.ZIP64_LIMIT
    const ushort DosDate19800101 = (0 << 9) | (1 << 5) | 1;
    const uint ExternalAttr = 0x180u << 16; // Unix mode 0600 (rw-------)

    public static void Write(string path, params NpyArray[] arrays)
    {
        ArgumentNullException.ThrowIfNull(arrays);
        var names = new HashSet<string>();
        foreach (var a in arrays)
        {
            ArgumentNullException.ThrowIfNull(a);
            if (!names.Add(a.Name))
                throw new ArgumentException($"Duplicate array name '{a.Name}' in npz.", nameof(arrays));
        }
        AtomicFile.Write(path, s => WriteTo(s, arrays));
    }

    /// <summary>
    /// Reads every .npy entry (stored or deflated) keyed by its name without ".npy", in archive order; with
    /// <paramref name="include"/>, only the entries it accepts (the others are not decompressed).
    /// </summary>
    public static IReadOnlyDictionary<string, NpyArray> Read(string path, Func<string, bool>? include = null)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"npz file '{path}' does not exist.", path);
        using var fs = File.OpenRead(path);
        ZipArchive zip;
        try
        {
            zip = new ZipArchive(fs, ZipArchiveMode.Read);
        }
        catch (InvalidDataException e)
        {
            var hint = LooksLikeNpy(path) ? " It is a single .npy array; use Npy.Read." : "";
            throw new InvalidDataException($"'{path}' is not an npz (zip) archive: {e.Message}{hint}", e);
        }
        using (zip)
        {
            var result = new Dictionary<string, NpyArray>();
            foreach (var entry in zip.Entries)
            {
                if (!entry.FullName.EndsWith(".npy", StringComparison.Ordinal))
                    continue; // numpy exposes other members as raw bytes; they have no NpyArray form
                var name = entry.FullName[..^4];
                if (include is not null && !include(name)) continue;
                using var es = entry.Open();
                result[name] = Npy.ReadFrom(es, name, $"'{path}' entry '{entry.FullName}'");
            }
            return result;
        }
    }

    /// <summary>Dtype and shape of every .npy entry, reading only the headers (cheap on a 600 MB sample file).</summary>
    public static IReadOnlyDictionary<string, (NpyDtype Dtype, long[] Shape)> ReadHeaders(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"npz file '{path}' does not exist.", path);
        using var fs = File.OpenRead(path);
        ZipArchive zip;
        try { zip = new ZipArchive(fs, ZipArchiveMode.Read); }
        catch (InvalidDataException e) { throw new InvalidDataException($"'{path}' is not an npz (zip) archive: {e.Message}", e); }
        using (zip)
        {
            var result = new Dictionary<string, (NpyDtype, long[])>();
            foreach (var entry in zip.Entries.Where(e => e.FullName.EndsWith(".npy", StringComparison.Ordinal)))
            {
                using var es = entry.Open();
                result[entry.FullName[..^4]] = Npy.ReadHeader(es, entry.FullName[..^4], $"'{path}' entry '{entry.FullName}'");
            }
            return result;
        }
    }

    static bool LooksLikeNpy(string path)
    {
        using var fs = File.OpenRead(path);
        Span<byte> head = stackalloc byte[6];
        return fs.Read(head) == 6 && head.SequenceEqual(Npy.Magic);
    }

    static void WriteTo(Stream s, NpyArray[] arrays)
    {
        var central = new List<(byte[] name, ushort flags, uint crc, long size, long offset)>();
        long pos = 0;
        foreach (var a in arrays)
        {
            var name = EncodeName(a.Name + ".npy", out var flags);
            var header = Npy.Header(a);
            long size = header.LongLength + a.Data.LongLength;
            var crc = Crc32.Append(Crc32.Append(0, header), a.Data);
            var big = size > Zip64Limit;

            // Local file header; CPython writes the zip64 extra even for small entries (numpy passes force_zip64).
            var lh = new byte[30 + name.Length + 20];
            var w = lh.AsSpan();
            BinaryPrimitives.WriteUInt32LittleEndian(w, 0x04034b50);
            BinaryPrimitives.WriteUInt16LittleEndian(w[4..], (ushort)(big ? 45 : 20));
            BinaryPrimitives.WriteUInt16LittleEndian(w[6..], flags);
            BinaryPrimitives.WriteUInt16LittleEndian(w[8..], 0); // stored
            BinaryPrimitives.WriteUInt16LittleEndian(w[10..], 0); // 00:00:00
            BinaryPrimitives.WriteUInt16LittleEndian(w[12..], DosDate19800101);
            BinaryPrimitives.WriteUInt32LittleEndian(w[14..], crc);
            BinaryPrimitives.WriteUInt32LittleEndian(w[18..], big ? uint.MaxValue : (uint)size);
            BinaryPrimitives.WriteUInt32LittleEndian(w[22..], big ? uint.MaxValue : (uint)size);
            BinaryPrimitives.WriteUInt16LittleEndian(w[26..], (ushort)name.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(w[28..], 20);
            name.CopyTo(w[30..]);
            var x = w[(30 + name.Length)..];
            BinaryPrimitives.WriteUInt16LittleEndian(x, 1);
            BinaryPrimitives.WriteUInt16LittleEndian(x[2..], 16);
            BinaryPrimitives.WriteUInt64LittleEndian(x[4..], (ulong)size);
            BinaryPrimitives.WriteUInt64LittleEndian(x[12..], (ulong)size);

            s.Write(lh);
            s.Write(header);
            s.Write(a.Data);
            central.Add((name, flags, crc, size, pos));
            pos += lh.Length + size;
        }

        var cdStart = pos;
        foreach (var (name, flags, crc, size, offset) in central)
        {
            // CPython puts a zip64 extra in the central directory only for the fields that overflow.
            var extra = new List<ulong>();
            if (size > Zip64Limit) { extra.Add((ulong)size); extra.Add((ulong)size); }
            if (offset > Zip64Limit) extra.Add((ulong)offset);
            var version = (byte)(extra.Count > 0 ? 45 : 20); // ZIP64_VERSION once any field overflows
            var extraLen = extra.Count == 0 ? 0 : 4 + 8 * extra.Count;

            var ch = new byte[46 + name.Length + extraLen];
            var w = ch.AsSpan();
            BinaryPrimitives.WriteUInt32LittleEndian(w, 0x02014b50);
            w[4] = version;   // create version
            w[5] = 3;         // create system: Unix
            w[6] = version;   // extract version
            w[7] = 0;
            BinaryPrimitives.WriteUInt16LittleEndian(w[8..], flags);
            BinaryPrimitives.WriteUInt16LittleEndian(w[10..], 0);
            BinaryPrimitives.WriteUInt16LittleEndian(w[12..], 0);
            BinaryPrimitives.WriteUInt16LittleEndian(w[14..], DosDate19800101);
            BinaryPrimitives.WriteUInt32LittleEndian(w[16..], crc);
            BinaryPrimitives.WriteUInt32LittleEndian(w[20..], size > Zip64Limit ? uint.MaxValue : (uint)size);
            BinaryPrimitives.WriteUInt32LittleEndian(w[24..], size > Zip64Limit ? uint.MaxValue : (uint)size);
            BinaryPrimitives.WriteUInt16LittleEndian(w[28..], (ushort)name.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(w[30..], (ushort)extraLen);
            // comment length, disk number, internal attributes: 0
            BinaryPrimitives.WriteUInt32LittleEndian(w[38..], ExternalAttr);
            BinaryPrimitives.WriteUInt32LittleEndian(w[42..], offset > Zip64Limit ? uint.MaxValue : (uint)offset);
            name.CopyTo(w[46..]);
            if (extraLen > 0)
            {
                var x = w[(46 + name.Length)..];
                BinaryPrimitives.WriteUInt16LittleEndian(x, 1);
                BinaryPrimitives.WriteUInt16LittleEndian(x[2..], (ushort)(8 * extra.Count));
                for (var i = 0; i < extra.Count; i++)
                    BinaryPrimitives.WriteUInt64LittleEndian(x[(4 + 8 * i)..], extra[i]);
            }
            s.Write(ch);
            pos += ch.Length;
        }

        long count = central.Count, cdSize = pos - cdStart;
        if (count > 0xFFFF || cdStart > Zip64Limit || cdSize > Zip64Limit)
        {
            var z = new byte[56 + 20];
            var w = z.AsSpan();
            BinaryPrimitives.WriteUInt32LittleEndian(w, 0x06064b50);
            BinaryPrimitives.WriteUInt64LittleEndian(w[4..], 44);
            BinaryPrimitives.WriteUInt16LittleEndian(w[12..], 45);
            BinaryPrimitives.WriteUInt16LittleEndian(w[14..], 45);
            BinaryPrimitives.WriteUInt64LittleEndian(w[24..], (ulong)count);
            BinaryPrimitives.WriteUInt64LittleEndian(w[32..], (ulong)count);
            BinaryPrimitives.WriteUInt64LittleEndian(w[40..], (ulong)cdSize);
            BinaryPrimitives.WriteUInt64LittleEndian(w[48..], (ulong)cdStart);
            BinaryPrimitives.WriteUInt32LittleEndian(w[56..], 0x07064b50); // zip64 end locator
            BinaryPrimitives.WriteUInt64LittleEndian(w[64..], (ulong)pos);
            BinaryPrimitives.WriteUInt32LittleEndian(w[72..], 1);
            s.Write(z);
        }
        var e = new byte[22];
        var ew = e.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(ew, 0x06054b50);
        BinaryPrimitives.WriteUInt16LittleEndian(ew[8..], (ushort)Math.Min(count, 0xFFFF));
        BinaryPrimitives.WriteUInt16LittleEndian(ew[10..], (ushort)Math.Min(count, 0xFFFF));
        BinaryPrimitives.WriteUInt32LittleEndian(ew[12..], (uint)Math.Min(cdSize, uint.MaxValue));
        BinaryPrimitives.WriteUInt32LittleEndian(ew[16..], (uint)Math.Min(cdStart, uint.MaxValue));
        s.Write(e);
    }

    /// <summary>ASCII names as-is; others as UTF-8 with the language-encoding flag (bit 11), like CPython.</summary>
    static byte[] EncodeName(string name, out ushort flags)
    {
        var ascii = name.All(ch => ch < 0x80);
        flags = ascii ? (ushort)0 : (ushort)0x800;
        return Encoding.UTF8.GetBytes(name);
    }

    /// <summary>
    /// Standard zip CRC-32 (reflected, polynomial 0xEDB88320), slicing-by-8 so a multi-GB savez is not
    /// CRC-bound; System.IO.Hashing is a package, not part of the BCL.
    /// </summary>
    static class Crc32
    {
        static readonly uint[] T = Build(); // 8 tables of 256: T[k*256 + b]

        static uint[] Build()
        {
            var t = new uint[8 * 256];
            for (uint i = 0; i < 256; i++)
            {
                var c = i;
                for (var k = 0; k < 8; k++)
                    c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
                t[i] = c;
            }
            for (var i = 256; i < t.Length; i++)
                t[i] = (t[i - 256] >> 8) ^ t[t[i - 256] & 0xFF];
            return t;
        }

        public static uint Append(uint crc, ReadOnlySpan<byte> data)
        {
            var c = ~crc;
            while (data.Length >= 8)
            {
                var lo = BinaryPrimitives.ReadUInt32LittleEndian(data) ^ c;
                var hi = BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
                c = T[7 * 256 + (lo & 0xFF)] ^ T[6 * 256 + ((lo >> 8) & 0xFF)] ^ T[5 * 256 + ((lo >> 16) & 0xFF)] ^ T[4 * 256 + (lo >> 24)]
                  ^ T[3 * 256 + (hi & 0xFF)] ^ T[2 * 256 + ((hi >> 8) & 0xFF)] ^ T[256 + ((hi >> 16) & 0xFF)] ^ T[hi >> 24];
                data = data[8..];
            }
            foreach (var b in data)
                c = T[(c ^ b) & 0xFF] ^ (c >> 8);
            return ~c;
        }
    }
}
