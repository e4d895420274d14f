using System.Text.RegularExpressions;

namespace ConsistencyModels.IO;

/// <summary>
/// Writes a file through a temporary sibling and a rename, so readers (and a run that is killed
/// half-way) never see a truncated file. No fsync: this guards against interrupted processes, not power loss.
/// </summary>
public static partial class AtomicFile
{
    /// <summary>The temporary name for writes to a file called <paramref name="fileName"/>: a hidden sibling, <c>.NAME.GUID.tmp</c>.</summary>
    private static string TemporaryName(string fileName) => $".{fileName}.{Guid.NewGuid():N}.tmp";

    [GeneratedRegex(@"^\..+\.[0-9a-f]{32}\.tmp$")]
    private static partial Regex Temporary();

    /// <summary>Whether <paramref name="fileName"/> is one of <see cref="Write"/>'s temporary names.</summary>
    public static bool IsTemporary(string fileName) => Temporary().IsMatch(fileName);

    /// <summary>
    /// Deletes the temporary files a killed <see cref="Write"/> left in <paramref name="directory"/> (not in its
    /// subfolders) and returns their paths. Call it where no other writer is working in that folder, e.g. when a
    /// training run starts in its output folder. A file that cannot be deleted is left as it is.
    /// </summary>
    public static IReadOnlyList<string> RemoveOrphans(string directory)
    {
        var removed = new List<string>();
        if (!Directory.Exists(directory)) return removed;
        foreach (var path in Directory.EnumerateFiles(directory, ".*.tmp"))
        {
            if (!IsTemporary(Path.GetFileName(path))) continue;
            try { File.Delete(path); removed.Add(path); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return removed;
    }

    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        // Same directory, so the rename stays on one file system and is atomic.
        var tmp = Path.Combine(dir, TemporaryName(Path.GetFileName(full)));
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
                write(fs);
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }
}
