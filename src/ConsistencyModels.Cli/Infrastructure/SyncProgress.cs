// IProgress for progress bars: reports on the calling thread (Progress<T> would post to the thread pool, out of order).
namespace ConsistencyModels.Cli;

internal sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
