// manifest.json beside the cached files: size, SHA-256 and source of every completed download, to detect corruption later.
using System.Security.Cryptography;
using System.Text.Json;

namespace ConsistencyModels.IO.Downloads;

public sealed record CacheEntry(string FileName, string Url, long Size, string Sha256, DateTime LastWriteUtc);

/// <summary>
/// The cache's record of finished downloads. A later load checks size and modification time (cheap) and, when
/// either changed, hashes the file again: a file that no longer matches its recorded SHA-256 is reported as corrupted.
/// Updates are serialised within the process and written atomically.
/// </summary>
public sealed class CacheManifest(string directory)
{
    public const string FileName = "manifest.json";
    private static readonly object WriteLock = new();

    public string Path => System.IO.Path.Combine(directory, FileName);

    public IReadOnlyDictionary<string, CacheEntry> Read()
    {
        if (!File.Exists(Path)) return new Dictionary<string, CacheEntry>();
        try { return JsonSerializer.Deserialize<Dictionary<string, CacheEntry>>(File.ReadAllText(Path)) ?? []; }
        catch (JsonException e) { throw new InvalidDataException($"{Path} is not a valid cache manifest ({e.Message}); delete it and download again", e); }
    }

    public CacheEntry Record(string fileName, string url)
    {
        var file = System.IO.Path.Combine(directory, fileName);
        var info = new FileInfo(file);
        var entry = new CacheEntry(fileName, url, info.Length, Sha256Of(file), info.LastWriteTimeUtc);
        lock (WriteLock)
        {
            var all = new Dictionary<string, CacheEntry>(Read()) { [fileName] = entry };
            AtomicFile.Write(Path, s => JsonSerializer.Serialize(s, all, new JsonSerializerOptions { WriteIndented = true }));
        }
        return entry;
    }

    /// <summary>Throws when the cached file differs from what was downloaded; files without an entry pass (copied in by hand).</summary>
    public void Verify(string fileName)
    {
        if (!Read().TryGetValue(fileName, out var entry)) return;
        var file = System.IO.Path.Combine(directory, fileName);
        var info = new FileInfo(file);
        if (info.Length == entry.Size && info.LastWriteTimeUtc == entry.LastWriteUtc) return;
        if (info.Length != entry.Size || Sha256Of(file) != entry.Sha256)
            throw new InvalidDataException($"{file} is corrupted: it no longer matches the download recorded in {Path} " +
                                           $"({entry.Size} bytes, SHA-256 {entry.Sha256}); now {info.Length} bytes. Delete it and `Download` it again.");
    }

    public static string Sha256Of(string file)
    {
        using var fs = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Convert.ToHexStringLower(SHA256.HashData(fs));
    }
}
