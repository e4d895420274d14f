using System.IO.Compression;
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
}
