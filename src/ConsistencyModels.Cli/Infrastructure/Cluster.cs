// This process's place in an MPI job (rank, size), created once; a plain single process without mpirun.
using ConsistencyModels.Distributed;

namespace ConsistencyModels.Cli;

internal static class Cluster
{
    private static readonly Lazy<ICommunicator> Lazy = new(Communicators.FromEnvironment);

    public static ICommunicator World => Lazy.Value;

    /// <summary>MPI_Finalize at exit (only if MPI was started).</summary>
    public static void Shutdown()
    {
        if (Lazy.IsValueCreated) Lazy.Value.Dispose();
    }

    /// <summary>A failing rank ends the whole job (MPI_Abort) instead of leaving the others blocked in a collective.</summary>
    public static void AbortOthers(int code)
    {
        if (Lazy.IsValueCreated && Lazy.Value is MpiCommunicator mpi && mpi.Size > 1) mpi.Abort(code);
    }
}
