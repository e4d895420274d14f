// Whether an output path can be written, told before any work: a folder where a file goes, a file where a folder goes,
// a parent that is a file, or a folder this process may not write into.
using System.Runtime.InteropServices;

namespace ConsistencyModels.IO;

public static partial class OutputPaths
{
    /// <summary>Why a file cannot be written at <paramref name="path"/> (its missing folders created), or null when it can.</summary>
    public static string? FileProblem(string path)
    {
        if (string.IsNullOrWhiteSpace(path)) return "the path is empty";
        string full;
        try { full = Path.GetFullPath(path); }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException) { return $"not a usable path ({e.Message})"; }
        if (Directory.Exists(full)) return "it is a folder; give a file name";
        if (full.EndsWith(Path.DirectorySeparatorChar)) return "it names a folder; give a file name";
        return FolderProblem(Path.GetDirectoryName(full)!);
    }

    /// <summary>Why files cannot be written into the folder <paramref name="path"/> (created when missing), or null when they can.</summary>
    public static string? DirectoryProblem(string path)
    {
        if (string.IsNullOrWhiteSpace(path)) return "the path is empty";
        string full;
        try { full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path)); }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException) { return $"not a usable path ({e.Message})"; }
        if (File.Exists(full)) return "it is a file, not a folder";
        return FolderProblem(full);
    }

    /// <summary>The nearest existing folder at or above <paramref name="folder"/> must be a folder this process may write into.</summary>
    private static string? FolderProblem(string folder)
    {
        string? existing = folder;
        while (existing is not null && !Directory.Exists(existing))
        {
            if (File.Exists(existing)) return $"{existing} is a file, not a folder";
            existing = Path.GetDirectoryName(existing);
        }
        if (existing is null) return $"no folder above it exists";
        if (!Writable(existing))
            return existing == folder ? $"the folder {existing} is not writable" : $"{folder} is missing and cannot be created: {existing} is not writable";
        return null;
    }

    private const int W_OK = 2, X_OK = 1;

    [LibraryImport("libc", EntryPoint = "access", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Access(string path, int mode);

    /// <summary>access(2) for the process's own user, read-only mounts included (root too); elsewhere the read-only attribute.</summary>
    private static bool Writable(string folder) =>
        AccessAllowsWriting(folder) ?? !new DirectoryInfo(folder).Attributes.HasFlag(FileAttributes.ReadOnly);

    /// <summary>Whether access(2) lets this process create files in <paramref name="folder"/>; null where there is no libc.</summary>
    internal static bool? AccessAllowsWriting(string folder)
    {
        if (!(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())) return null;
        try { return Access(folder, W_OK | X_OK) == 0; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return null; }
    }
}
