using System.IO.Compression;
using System.IO.Hashing;
using ConsistencyModels.IO.Zip;

namespace ConsistencyModels.IO.Numpy;

/// <summary>
/// .npz archives. <see cref="Write"/> reproduces <c>numpy.savez</c> byte for byte as the reference fixtures
/// were written (CPython zipfile on Linux: stored entries, 1980-01-01 timestamps, mode 0600, a forced zip64
/// local extra with the real 32-bit sizes beside it), so outputs can be compared by hash. CPython 3.11 and
/// older instead put 0xFFFFFFFF and version 4.5 in every forced-zip64 local header; readers accept both.
/// </summary>
public static class Npz
{
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
    /// <paramref name="include"/>, only the entries it accepts (the others are not decompressed). Each entry's shape
    /// must fit its size and its CRC-32 must match, so a crafted header or a corrupted file fails instead of being read.
    /// </summary>
    public static IReadOnlyDictionary<string, NpyArray> Read(string path, Func<string, bool>? include = null)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"npz file '{path}' does not exist.", path);
        // Before opening: a FIFO would block the open.
        if (InputFiles.IsEmptyOrNotRegular(path)) throw new InvalidDataException($"'{path}': {InputFiles.EmptyOrNotRegular}, not an npz archive.");
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
                var source = $"'{path}' entry '{InputText.Clip(entry.FullName)}'";
                using var es = new CrcReadStream(entry.Open());
                result[name] = Npy.ReadFrom(es, name, source, entry.Length);
                // ZipArchive does not check it (numpy's zipfile does): a flipped byte would otherwise be read as data.
                uint crc = es.Finish();
                if (crc != entry.Crc32)
                    throw new InvalidDataException($"{source} fails its CRC-32 check (stored {entry.Crc32:x8}, computed {crc:x8}): the file is corrupt.");
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
                result[entry.FullName[..^4]] = Npy.ReadHeader(es, entry.FullName[..^4], $"'{path}' entry '{InputText.Clip(entry.FullName)}'", entry.Length);
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
        var zip = new ZipStoreWriter(s, ZipStoreLayout.NumpySavez);
        foreach (var a in arrays)
        {
            var header = Npy.Header(a);
            zip.Add(a.Name + ".npy", header.LongLength + a.Data.LongLength, e =>
            {
                e.Write(header);
                e.Write(a.Data);
            });
        }
        zip.Finish();
    }

    /// <summary>Passes reads through and keeps the CRC-32 of everything read; <see cref="Finish"/> reads the rest.</summary>
    private sealed class CrcReadStream(Stream inner) : Stream
    {
        private readonly Crc32 _crc = new();

        public uint Finish()
        {
            var buffer = new byte[1 << 16];
            while (Read(buffer, 0, buffer.Length) > 0) { }
            return _crc.GetCurrentHashAsUInt32();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int n = inner.Read(buffer);
            _crc.Append(buffer[..n]);
            return n;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
