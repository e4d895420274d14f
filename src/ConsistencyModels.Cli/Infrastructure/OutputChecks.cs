// Output paths are checked before any work: one line naming the flag, the path and why it cannot be written.
using ConsistencyModels.IO;

namespace ConsistencyModels.Cli;

internal static class OutputChecks
{
    /// <summary>Refuses a file output that cannot be written (<paramref name="flag"/>: the option that gave it).</summary>
    public static void File(string flag, string? path)
    {
        if (path is not null && OutputPaths.FileProblem(path) is string why) throw new ArgumentException($"{flag} {path}: cannot write there: {why}");
    }

    /// <summary>Refuses an output folder that cannot be written into or created.</summary>
    public static void Directory(string flag, string? path)
    {
        if (path is not null && OutputPaths.DirectoryProblem(path) is string why) throw new ArgumentException($"{flag} {path}: cannot write there: {why}");
    }
}
