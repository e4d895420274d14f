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
        using var p = Process.Start(StartInfo(environment, args))!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5))) { p.Kill(true); throw new TimeoutException("cm did not finish in 5 minutes"); }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    private static ProcessStartInfo StartInfo(IReadOnlyDictionary<string, string> environment, string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "cm.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["NO_COLOR"] = "1";
        psi.Environment["CM_CACHE_DIR"] = EmptyCache;
        foreach (var (k, v) in environment) psi.Environment[k] = v;
        return psi;
    }

    /// <summary>Starts `cm ARGS` without waiting: the test watches it, signals it, then waits for its <see cref="Result"/>.</summary>
    public static Running Start(params string[] args) => new(Process.Start(StartInfo(new Dictionary<string, string>(), args))!);

    /// <summary>A `cm` child process whose output is collected as it comes.</summary>
    public sealed class Running : IDisposable
    {
        private readonly Process _p;
        private readonly System.Text.StringBuilder _stdout = new(), _stderr = new();

        internal Running(Process p)
        {
            _p = p;
            p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_stdout) _stdout.AppendLine(e.Data); };
            p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data); };
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
        }

        public int Id => _p.Id;
        public bool HasExited => _p.HasExited;

        /// <summary>The output so far (stdout, then stderr).</summary>
        public string OutputSoFar { get { lock (_stdout) lock (_stderr) return _stdout.ToString() + _stderr; } }

        /// <summary>Sends a POSIX signal (Process.Kill would send SIGKILL, which cannot be handled).</summary>
        public void Signal(int signal)
        {
            if (kill(_p.Id, signal) != 0)
                throw new InvalidOperationException($"kill({_p.Id}, {signal}) failed: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
        }

        /// <summary>Waits for the exit; past <paramref name="timeout"/> it kills the process tree and throws.</summary>
        public Result WaitForExit(TimeSpan timeout)
        {
            if (!_p.WaitForExit(timeout)) { _p.Kill(true); throw new TimeoutException($"cm did not finish in {timeout}:\n{OutputSoFar}"); }
            _p.WaitForExit();                       // drains the redirected output
            lock (_stdout) lock (_stderr) return new Result(_p.ExitCode, _stdout.ToString(), _stderr.ToString());
        }

        public void Dispose()
        {
            try { if (!_p.HasExited) _p.Kill(true); } catch (InvalidOperationException) { }
            _p.Dispose();
        }

        [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
        private static extern int kill(int pid, int sig);
    }
}
