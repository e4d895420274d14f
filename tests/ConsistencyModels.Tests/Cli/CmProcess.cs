// Runs the real `cm` executable (cm.dll copied next to the tests) as a child process.
using System.Diagnostics;

namespace ConsistencyModels.Tests.Cli;

internal static class CmProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public string All => Stdout + Stderr;
    }

    private static readonly TempDir EmptyCacheDir = RunScopedTempDir();

    /// <summary>An empty download cache for this test run, so tests never see files a user downloaded.</summary>
    public static string EmptyCache => EmptyCacheDir.Path;

    /// <summary>A scratch folder shared by the whole run, deleted when the test process ends.</summary>
    private static TempDir RunScopedTempDir()
    {
        var dir = new TempDir();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => dir.Dispose();
        return dir;
    }

    public static Result Run(params string[] args) => RunWith(new Dictionary<string, string>(), args);

    public static Result RunWith(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "cm.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["NO_COLOR"] = "1";
        psi.Environment["CM_CACHE_DIR"] = EmptyCache;
        foreach (var (k, v) in environment) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5))) { p.Kill(true); throw new TimeoutException("cm did not finish in 5 minutes"); }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }
}
