// IProgress that calls back synchronously (Progress<T> posts to the thread pool, so a test could miss the last report).
namespace ConsistencyModels.Tests;

internal sealed class ImmediateProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
