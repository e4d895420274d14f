using Xunit;
namespace ConsistencyModels.Tests.IO.ImagesAndNpz;

/// <summary>A scratch directory deleted after the test.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "cm-io-tests-" + Guid.NewGuid().ToString("N"));

    public TempDir() => Directory.CreateDirectory(Path);

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Finds the shared golden fixtures; tests skip (pass with a message) without them, except on CI.</summary>
internal static class Fixtures
{
    public static string? Find(string relative)
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("CM_FIXTURES") is { Length: > 0 } env)
            candidates.Add(Path.Combine(env, relative));
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            candidates.Add(Path.Combine(dir.FullName, "shared", "fixtures", relative));
        candidates.Add(Path.Combine("/work/shared/fixtures", relative));
        return candidates.FirstOrDefault(File.Exists);
    }

    /// <summary>The fixture's path, or null after logging why the test is skipped (failing instead when CI=true).</summary>
    public static string? Require(string relative, Xunit.Abstractions.ITestOutputHelper output)
    {
        var path = Find(relative);
        if (path != null) return path;
        var message = $"Fixture '{relative}' not found (set CM_FIXTURES to the fixtures folder).";
        if (Environment.GetEnvironmentVariable("CI") == "true")
            Assert.Fail(message);
        output.WriteLine("SKIPPED: " + message);
        return null;
    }
}
