// Locates the golden fixtures produced by the official implementation (shared/fixtures, or $CM_FIXTURES).
namespace ConsistencyModels.Tests.IO;

/// <summary>
/// Where the fixture files are. Tests must not pass silently without them: a test checks <see cref="Dir"/> (or calls
/// <see cref="Unavailable"/>) and returns early with a message when it is null, except on CI (<c>CI=true</c>), where a
/// missing fixture folder is a failure.
/// </summary>
public static class FixturePaths
{
    private static readonly Lazy<string?> Located = new(Locate);

    /// <summary>The fixture folder, or null when it cannot be found.</summary>
    public static string? Dir => Located.Value;

    /// <summary>The full path of a fixture file; throws (the test fails) when the folder or the file is missing.</summary>
    public static string Require(string relativePath)
    {
        var dir = Dir ?? throw new InvalidOperationException(
            $"fixtures not found (set CM_FIXTURES to the fixtures folder); needed: {relativePath}");
        var full = Path.Combine(dir, relativePath);
        return File.Exists(full) ? full : throw new FileNotFoundException($"fixture '{relativePath}' is missing from {dir}", full);
    }

    /// <summary>
    /// True (after writing why to <paramref name="log"/>) when fixtures are absent and the test should return;
    /// throws instead on CI, where skipping would hide a broken setup.
    /// </summary>
    public static bool Unavailable(Action<string>? log = null)
    {
        if (Dir is not null) return false;
        const string Message = "fixtures not found (set CM_FIXTURES to the fixtures folder)";
        if (Environment.GetEnvironmentVariable("CI") == "true") throw new InvalidOperationException(Message + " and CI=true");
        (log ?? Console.WriteLine)("SKIPPED: " + Message);
        return true;
    }

    private static string? Locate()
    {
        if (Environment.GetEnvironmentVariable("CM_FIXTURES") is { Length: > 0 } env)
            return Directory.Exists(env) ? Path.GetFullPath(env) : null;
        // shared/ sits next to the repository here, and inside the checkout on other machines.
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "fixtures");
            if (File.Exists(Path.Combine(candidate, "MANIFEST.json"))) return candidate;
        }
        return Directory.Exists("/work/shared/fixtures") ? "/work/shared/fixtures" : null;
    }
}
