// SIGINT (Ctrl-C) and SIGTERM as a CancellationToken: the first asks a long command to stop at a safe point (cm train
// saves the step it stops at); a second one gets the runtime's default action and ends the process at once.
using System.Runtime.InteropServices;

namespace ConsistencyModels.Cli;

internal sealed class StopSignals : IDisposable
{
    /// <summary>Exit codes of a command that stopped cleanly on a signal: 128 + the signal number, as shells report it.</summary>
    public const int SigintExitCode = 130, SigtermExitCode = 143;

    private readonly CancellationTokenSource _cts;
    private readonly List<PosixSignalRegistration> _registrations = [];
    private int _received;                         // the first signal (a PosixSignal value, all non-zero); 0 = none yet

    private StopSignals(CancellationToken linked)
    {
        _cts = CancellationTokenSource.CreateLinkedTokenSource(linked);
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
        {
            try { _registrations.Add(PosixSignalRegistration.Create(signal, OnSignal)); }
            catch (PlatformNotSupportedException) { }   // e.g. SIGTERM where the platform has no such signal
        }
    }

    /// <summary>Listens for SIGINT and SIGTERM until disposed; <see cref="Token"/> also follows <paramref name="linked"/>.</summary>
    public static StopSignals Listen(CancellationToken linked = default) => new(linked);

    /// <summary>Cancelled by the first SIGINT/SIGTERM (or by the linked token).</summary>
    public CancellationToken Token => _cts.Token;

    /// <summary>The first signal received, if any.</summary>
    public PosixSignal? Received => Volatile.Read(ref _received) is int s and not 0 ? (PosixSignal)s : null;

    /// <summary>What the stopped command exits with: 143 after SIGTERM, else 130 (Ctrl-C or the linked token).</summary>
    public int ExitCode => Received == PosixSignal.SIGTERM ? SigtermExitCode : SigintExitCode;

    /// <summary>Whether <paramref name="code"/> says "stopped on a signal, state saved": not a failure (no MPI_Abort of the other ranks).</summary>
    public static bool IsStopCode(int code) => code is SigintExitCode or SigtermExitCode;

    /// <summary>How messages name the signal: "SIGTERM", "Ctrl-C (SIGINT)".</summary>
    public string Describe() => Received switch
    {
        PosixSignal.SIGTERM => "SIGTERM",
        PosixSignal.SIGINT => "Ctrl-C (SIGINT)",
        _ => "cancellation",
    };

    private void OnSignal(PosixSignalContext context)
    {
        // A second signal: leave context.Cancel false, so the runtime ends the process as it would without us.
        if (Interlocked.CompareExchange(ref _received, (int)context.Signal, 0) != 0) return;
        context.Cancel = true;                      // keep the process alive until the command has saved and returned
        try { _cts.Cancel(); }
        catch (ObjectDisposedException) { }         // the command has already finished
    }

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
        _cts.Dispose();
    }
}
