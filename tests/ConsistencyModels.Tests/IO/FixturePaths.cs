// Locates the golden fixtures produced by the official implementation (shared/fixtures, or $CM_FIXTURES).
namespace ConsistencyModels.Tests.IO;

/// <summary>
/// Where the fixture files are. A test reaches them through <see cref="Require"/>, which skips the test when the folder
/// is absent, or fails it under CI (<c>CI=true</c>), where a missing fixture folder is a broken setup
/// (<see cref="Requirements"/>); such a test is a [SkippableFact] or [SkippableTheory].
/// </summary>
public static class FixturePaths
{
    private static readonly Lazy<string?> Located = new(Locate);

    /// <summary>The fixture folder, or null when it cannot be found.</summary>
    public static string? Dir => Located.Value;

    /// <summary>
    /// The full path of a fixture file. Skips the test (fails it under CI) when the folder is absent; fails it when the
    /// folder is there but the file is not.
    /// </summary>
    public static string Require(string relativePath)
    {
        var dir = Requirements.FixtureDir();
        var full = Path.Combine(dir, relativePath);
        return File.Exists(full) ? full : throw new FileNotFoundException($"fixture '{relativePath}' is missing from {dir}", full);
    }

    /// <summary>
    /// A file of the reference notes next to the fixtures (shared/reference, e.g. the official key lists). Skips the
    /// test (fails it under CI) when the fixtures or the file are absent.
    /// </summary>
    public static string RequireReference(string name)
    {
        var path = Path.GetFullPath(Path.Combine(Requirements.FixtureDir(), "..", "reference", name));
        Requirements.Require(File.Exists(path), $"reference file {path} not found");
        return path;
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
