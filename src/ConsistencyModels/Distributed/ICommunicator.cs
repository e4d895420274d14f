// The few collective operations data-parallel training and sharded sampling need; one process or MPI behind them.
namespace ConsistencyModels.Distributed;

public interface ICommunicator : IDisposable
{
    int Rank { get; }
    int Size { get; }
    bool IsRoot => Rank == 0;

    /// <summary>Element-wise sum over all ranks, in place.</summary>
    void AllreduceSum(Span<float> values);
    void AllreduceSum(Span<double> values);

    /// <summary>Copies <paramref name="buffer"/> of <paramref name="root"/> into every rank's buffer.</summary>
    void Broadcast(Span<byte> buffer, int root = 0);

    /// <summary>Gathers each rank's bytes (any length) on <paramref name="root"/>, in rank order; others get null.</summary>
    byte[][]? Gather(ReadOnlySpan<byte> mine, int root = 0);

    void Barrier();
}

/// <summary>One process: every collective is the identity.</summary>
public sealed class SingleProcess : ICommunicator
{
    public static SingleProcess Instance { get; } = new();
    public int Rank => 0;
    public int Size => 1;
    public void AllreduceSum(Span<float> values) { }
    public void AllreduceSum(Span<double> values) { }
    public void Broadcast(Span<byte> buffer, int root = 0) { }
    public byte[][]? Gather(ReadOnlySpan<byte> mine, int root = 0) => [mine.ToArray()];
    public void Barrier() { }
    public void Dispose() { }
}
