using System.IO.Hashing;
using System.Text;

namespace ConsistencyModels.IO.Zip;

/// <summary>
/// A zip writer for uncompressed ("stored") entries whose bytes follow a reference writer exactly (see
/// <see cref="ZipStoreLayout"/>): every entry dated 1980-01-01 00:00, no data descriptors, Zip64 records only where
/// the layout asks for them. The BCL's ZipArchive can neither align data nor write a known-size stored entry without
/// buffering it.
/// </summary>
internal sealed class ZipStoreWriter(Stream output, ZipStoreLayout layout)
{
    private const uint Max32 = 0xFFFFFFFF;
    private const ushort DosDate1980 = (1 << 5) | 1; // 1980-01-01: the earliest valid DOS date; time 00:00
    private const ushort Zip64Version = 45, BaseVersion = 20;

    private sealed record Entry(byte[] Name, ushort Flags, uint Crc, long Size, long Offset);

    private readonly List<Entry> _entries = [];

    public void Add(string name, ReadOnlySpan<byte> data)
    {
        var copy = data.ToArray();
        Add(name, copy.Length, s => s.Write(copy));
    }

    /// <summary>
    /// Adds an entry of exactly <paramref name="size"/> bytes, produced by <paramref name="write"/>. The output must be
    /// seekable: the CRC in the local header is filled in once the data has been seen.
    /// </summary>
    public void Add(string name, long size, Action<Stream> write)
    {
        if (!output.CanSeek) throw new InvalidOperationException("the zip writer needs a seekable stream");
        var nameBytes = Encoding.UTF8.GetBytes(name);
        ushort flags = (ushort)(nameBytes.Length != name.Length ? 0x0800 : 0); // bit 11: name is UTF-8
        long offset = output.Position;
        bool zip64 = NeedsZip64(size);
        int zip64Extra = zip64 || layout.Zip64ExtraInEveryLocalHeader ? 4 + 16 : 0;
        int alignment = layout.DataAlignment;
        int alignExtra = alignment > 0 ? 4 : 0;
        int pad = alignment > 0
            ? (int)((alignment - (offset + 30 + nameBytes.Length + zip64Extra + alignExtra) % alignment) % alignment)
            : 0;

        var header = new BinaryWriter(output, Encoding.UTF8, leaveOpen: true);
        header.Write(0x04034b50u);
        header.Write(zip64 ? Zip64Version : BaseVersion); // version needed
        header.Write(flags);
        header.Write((ushort)0); // method: stored
        header.Write((ushort)0);
        header.Write(DosDate1980);
        header.Write(0u); // CRC, patched below once the data has been seen
        header.Write(zip64 ? Max32 : (uint)size);
        header.Write(zip64 ? Max32 : (uint)size);
        header.Write((ushort)nameBytes.Length);
        header.Write((ushort)(zip64Extra + alignExtra + pad));
        header.Write(nameBytes);
        if (zip64Extra > 0)
        {
            header.Write((ushort)0x0001);
            header.Write((ushort)16);
            header.Write(size);
            header.Write(size);
        }
        if (alignment > 0)
        {
            header.Write((ushort)0x4246); // "FB": PyTorch's alignment padding
            header.Write((ushort)pad);
            header.Write(Enumerable.Repeat((byte)'Z', pad).ToArray());
        }
        header.Flush();

        var counting = new CrcStream(output);
        write(counting);
        if (counting.Count != size)
            throw new InvalidOperationException($"zip entry '{name}' was declared as {size} bytes but {counting.Count} were written");

        long end = output.Position;
        output.Position = offset + 14;
        header.Write(counting.Crc);
        header.Flush();
        output.Position = end;
        _entries.Add(new Entry(nameBytes, flags, counting.Crc, size, offset));
    }

    /// <summary>Writes the central directory and end records. The stream is left open.</summary>
    public void Finish()
    {
        var w = new BinaryWriter(output, Encoding.UTF8, leaveOpen: true);
        long cdStart = output.Position;
        foreach (var e in _entries)
        {
            bool bigSize = NeedsZip64(e.Size);
            bool bigOffset = NeedsZip64(e.Offset);
            int extra = (bigSize ? 16 : 0) + (bigOffset ? 8 : 0);
            ushort version = extra > 0 ? Zip64Version : BaseVersion;
            w.Write(0x02014b50u);
            w.Write(layout.UnixMode is null ? Zip64Version : (ushort)(3 << 8 | version)); // version made by
            w.Write(version); // version needed
            w.Write(e.Flags);
            w.Write((ushort)0);
            w.Write((ushort)0);
            w.Write(DosDate1980);
            w.Write(e.Crc);
            w.Write(bigSize ? Max32 : (uint)e.Size);
            w.Write(bigSize ? Max32 : (uint)e.Size);
            w.Write((ushort)e.Name.Length);
            w.Write((ushort)(extra > 0 ? extra + 4 : 0));
            w.Write((ushort)0); // comment
            w.Write((ushort)0); // disk
            w.Write((ushort)0); // internal attributes
            w.Write((uint)(layout.UnixMode ?? 0) << 16); // external attributes
            w.Write(bigOffset ? Max32 : (uint)e.Offset);
            w.Write(e.Name);
            if (extra > 0)
            {
                // Zip64 extra: only the fields saturated above, in this order.
                w.Write((ushort)0x0001);
                w.Write((ushort)extra);
                if (bigSize) { w.Write(e.Size); w.Write(e.Size); }
                if (bigOffset) w.Write(e.Offset);
            }
        }
        long cdEnd = output.Position;
        long cdSize = cdEnd - cdStart;
        long count = _entries.Count;
        bool zip64End = layout.ForceZip64 || count >= layout.Zip64CountFrom || NeedsZip64(cdStart) || NeedsZip64(cdSize);
        if (zip64End)
        {
            w.Write(0x06064b50u); // Zip64 end of central directory record
            w.Write(44L);
            w.Write(Zip64Version);
            w.Write(Zip64Version);
            w.Write(0u);
            w.Write(0u);
            w.Write(count);
            w.Write(count);
            w.Write(cdSize);
            w.Write(cdStart);
            w.Write(0x07064b50u); // its locator
            w.Write(0u);
            w.Write(cdEnd);
            w.Write(1u);
        }
        bool saturate = zip64End && layout.SaturateEndRecord;
        ushort countField = saturate ? (ushort)0xFFFF : (ushort)Math.Min(count, 0xFFFF);
        w.Write(0x06054b50u);
        w.Write((ushort)0);
        w.Write((ushort)0);
        w.Write(countField);
        w.Write(countField);
        w.Write(saturate ? Max32 : (uint)Math.Min(cdSize, Max32));
        w.Write(saturate ? Max32 : (uint)Math.Min(cdStart, Max32));
        w.Write((ushort)0);
        w.Flush();
    }

    private bool NeedsZip64(long value) => layout.ForceZip64 || value >= layout.Zip64SizeFrom;

    /// <summary>Passes writes through while counting them and computing their CRC-32.</summary>
    private sealed class CrcStream(Stream inner) : Stream
    {
        private readonly Crc32 _crc = new();

        public uint Crc => _crc.GetCurrentHashAsUInt32();
        public long Count { get; private set; }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _crc.Append(buffer);
            Count += buffer.Length;
            inner.Write(buffer);
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Flush() => inner.Flush();
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => Count; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
