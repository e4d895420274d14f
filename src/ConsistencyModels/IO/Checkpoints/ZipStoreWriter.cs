using System.Text;

namespace ConsistencyModels.IO.Checkpoints;

/// <summary>
/// A minimal zip writer for uncompressed ("stored") entries, written the way PyTorch writes checkpoints: each
/// entry's data starts on a 64-byte boundary (padding in a local-header extra field, id "FB") so readers can map
/// storages in place, and Zip64 records are used only when sizes or offsets need them. The BCL's ZipArchive can do
/// neither alignment nor a known-size stored entry without buffering.
/// </summary>
internal sealed class ZipStoreWriter(Stream output, bool forceZip64 = false)
{
    private const int Alignment = 64;
    private const uint Max32 = 0xFFFFFFFF;
    private const ushort DosDate1980 = (1 << 5) | 1; // 1980-01-01: the earliest valid DOS date; time 00:00

    private sealed record Entry(byte[] Name, ushort Flags, uint Crc, long Size, long Offset);

    private readonly List<Entry> _entries = [];

    public void Add(string name, ReadOnlySpan<byte> data)
    {
        var copy = data.ToArray();
        Add(name, copy.Length, s => s.Write(copy));
    }

    /// <summary>Adds an entry of exactly <paramref name="size"/> bytes, produced by <paramref name="write"/>.</summary>
    public void Add(string name, long size, Action<Stream> write)
    {
        if (!output.CanSeek) throw new InvalidOperationException("the zip writer needs a seekable stream");
        var nameBytes = Encoding.UTF8.GetBytes(name);
        ushort flags = (ushort)(nameBytes.Length != name.Length ? 0x0800 : 0); // bit 11: name is UTF-8
        long offset = output.Position;
        bool zip64 = forceZip64 || size >= Max32;
        int zip64Extra = zip64 ? 4 + 16 : 0;
        int pad = (int)((Alignment - (offset + 30 + nameBytes.Length + zip64Extra + 4) % Alignment) % Alignment);

        var header = new BinaryWriter(output, Encoding.UTF8, leaveOpen: true);
        header.Write(0x04034b50u);
        header.Write((ushort)(zip64 ? 45 : 20)); // version needed
        header.Write(flags);
        header.Write((ushort)0); // method: stored
        header.Write((ushort)0);
        header.Write(DosDate1980);
        header.Write(0u); // CRC, patched below once the data has been seen
        header.Write(zip64 ? Max32 : (uint)size);
        header.Write(zip64 ? Max32 : (uint)size);
        header.Write((ushort)nameBytes.Length);
        header.Write((ushort)(zip64Extra + 4 + pad));
        header.Write(nameBytes);
        if (zip64)
        {
            header.Write((ushort)0x0001);
            header.Write((ushort)16);
            header.Write(size);
            header.Write(size);
        }
        header.Write((ushort)0x4246); // "FB": PyTorch's alignment padding
        header.Write((ushort)pad);
        header.Write(Enumerable.Repeat((byte)'Z', pad).ToArray());
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
            bool bigSize = forceZip64 || e.Size >= Max32;
            bool bigOffset = forceZip64 || e.Offset >= Max32;
            int extra = (bigSize ? 16 : 0) + (bigOffset ? 8 : 0);
            w.Write(0x02014b50u);
            w.Write((ushort)45); // version made by: 4.5, MS-DOS attributes
            w.Write((ushort)(extra > 0 ? 45 : 20));
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
            w.Write(0u); // external attributes
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
        bool zip64End = forceZip64 || _entries.Count >= 0xFFFF || cdStart >= Max32 || cdSize >= Max32;
        if (zip64End)
        {
            w.Write(0x06064b50u); // Zip64 end of central directory record
            w.Write(44L);
            w.Write((ushort)45);
            w.Write((ushort)45);
            w.Write(0u);
            w.Write(0u);
            w.Write((long)_entries.Count);
            w.Write((long)_entries.Count);
            w.Write(cdSize);
            w.Write(cdStart);
            w.Write(0x07064b50u); // its locator
            w.Write(0u);
            w.Write(cdEnd);
            w.Write(1u);
        }
        w.Write(0x06054b50u);
        w.Write((ushort)0);
        w.Write((ushort)0);
        w.Write(zip64End ? (ushort)0xFFFF : (ushort)_entries.Count);
        w.Write(zip64End ? (ushort)0xFFFF : (ushort)_entries.Count);
        w.Write(zip64End ? Max32 : (uint)cdSize);
        w.Write(zip64End ? Max32 : (uint)cdStart);
        w.Write((ushort)0);
        w.Flush();
    }

    /// <summary>Passes writes through while counting them and computing their CRC-32.</summary>
    private sealed class CrcStream(Stream inner) : Stream
    {
        public uint Crc { get; private set; }
        public long Count { get; private set; }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            Crc = Crc32.Append(Crc, buffer);
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
