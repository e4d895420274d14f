// Picks the communicator for this process: MPI under a multi-rank launcher, else a single process.
namespace ConsistencyModels.Distributed;

public static class Communicators
{
    /// <summary>MPI_COMM_WORLD when launched with several ranks (mpirun -np N, srun), otherwise <see cref="SingleProcess"/>.</summary>
    public static ICommunicator FromEnvironment() =>
        MpiCommunicator.LaunchedWithSeveralRanks ? MpiCommunicator.Create() : SingleProcess.Instance;

    /// <summary>Rows [start, end) of <paramref name="count"/> that rank <paramref name="rank"/> of <paramref name="size"/> owns (contiguous, sizes differing by at most one).</summary>
    public static (int Start, int End) Share(int count, int rank, int size) =>
        ((int)((long)count * rank / size), (int)((long)count * (rank + 1) / size));
}
